//! One test per upstream quirk, plus the common rules. Expected values are what Falco's
//! k8saudit 0.18.0 gives for the same event (read from its Go extraction code).

use crate::event::EventView;
use crate::fields::{Arg, ExtractError, extract, find};

fn run(doc: &str, field: &str, arg: Arg<'_>) -> Result<Option<Vec<String>>, ExtractError> {
    let compact = crate::json::compact(doc.as_bytes()).expect("test document is valid JSON");
    let view = EventView::new(&compact, 0);
    let id = find(field).unwrap_or_else(|| panic!("unknown field {field}"));
    Ok(extract(&view, id, arg)?.map(|v| {
        v.as_slice()
            .iter()
            .map(|s| String::from_utf8(s.to_vec()).unwrap())
            .collect()
    }))
}

fn one(doc: &str, field: &str) -> Option<String> {
    let mut values = run(doc, field, Arg::None).expect("extraction succeeds")?;
    assert_eq!(values.len(), 1, "{field} gave {values:?}");
    values.pop()
}

fn list(doc: &str, field: &str) -> Option<Vec<String>> {
    run(doc, field, Arg::None).expect("extraction succeeds")
}

fn at(doc: &str, field: &str, index: u64) -> Option<Vec<String>> {
    run(doc, field, Arg::Index(index)).expect("extraction succeeds")
}

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

const POD: &str = r#"{"auditID":"p","verb":"create","objectRef":{"resource":"pods","namespace":"default"},
 "responseObject":{"metadata":{"name":"web-1"}},
 "requestObject":{"spec":{
   "runAsUser":7,
   "securityContext":{"runAsUser":1000,"fsGroup":2000,"supplementalGroups":[1,2]},
   "hostNetwork":true,
   "containers":[
     {"name":"web","image":"registry:5000/team/web:1.2@sha256:abc","command":["nginx","-g","daemon off;"],
      "securityContext":{"privileged":true,"runAsUser":33,"capabilities":{"add":["NET_ADMIN","SYS_TIME"]}},
      "ports":[{"containerPort":80},{"containerPort":443,"hostPort":8443}]},
     {"name":"side","image":"busybox","args":["sleep","1"],"securityContext":{"runAsGroup":5}}
   ],
   "initContainers":[{"name":"init","image":"alpine:3","securityContext":{"privileged":true}}],
   "volumes":[{"name":"a","hostPath":{"path":"/var/run/docker.sock"}},{"name":"b","configMap":{"name":"c"}},{"name":"f","flexVolume":{"driver":"x/y"}}]
 }}}"#;

#[test]
fn quirk_no_audit_id_means_no_value_at_all() {
    let doc = r#"{"verb":"get","user":{"username":"alice"}}"#;
    assert_eq!(one(doc, "ka.verb"), None);
    assert_eq!(one(doc, "ka.user.name"), None);
    assert_eq!(one(doc, "ka.req.binding.subject.has_name"), None);
    // A null auditID is present, so fields work.
    assert_eq!(
        one(r#"{"auditID":null,"verb":"get"}"#, "ka.verb").as_deref(),
        Some("get")
    );
}

#[test]
fn quirk_non_strings_are_compact_json() {
    let doc = r#"{"auditID":"a","responseStatus":{"code":201},"requestObject":{"data":{"k": "v","n":[1, 2.0]}},
                 "user":{"username":{"x":1}}}"#;
    assert_eq!(one(doc, "ka.response.code").as_deref(), Some("201"));
    assert_eq!(
        one(doc, "ka.req.configmap.obj").as_deref(),
        Some(r#"{"k":"v","n":[1,2.0]}"#)
    );
    assert_eq!(one(doc, "ka.user.name").as_deref(), Some(r#"{"x":1}"#));
    assert_eq!(one(POD, "ka.req.pod.host_network").as_deref(), Some("true"));
}

#[test]
fn strings_are_unescaped() {
    let doc =
        r#"{"auditID":"a","annotations":{"authorization.k8s.io/reason":"RBAC: allowed by \"x\""}}"#;
    assert_eq!(
        one(doc, "ka.auth.reason").as_deref(),
        Some(r#"RBAC: allowed by "x""#)
    );
}

#[test]
fn list_fields_and_empty_lists() {
    let doc = r#"{"auditID":"a","user":{"groups":["system:masters","system:authenticated"]}}"#;
    assert_eq!(
        list(doc, "ka.user.groups"),
        strings(&["system:masters", "system:authenticated"])
    );
    assert_eq!(
        list(r#"{"auditID":"a","user":{"groups":[]}}"#, "ka.user.groups"),
        None
    );
    let not_array = r#"{"auditID":"a","user":{"groups":"system:masters"}}"#;
    assert_eq!(
        run(not_array, "ka.user.groups", Arg::None),
        Err(ExtractError::WrongType)
    );
}

#[test]
fn quirk_index_selects_an_element_of_the_first_array_on_the_path() {
    assert_eq!(
        at(POD, "ka.req.pod.containers.image", 1),
        strings(&["busybox"])
    );
    // host_port[0] is every port of container 0, not the first port.
    assert_eq!(
        at(POD, "ka.req.pod.containers.host_port", 0),
        strings(&["80", "8443"])
    );
    assert_eq!(at(POD, "ka.req.pod.containers.image", 2), None);
    let role =
        r#"{"auditID":"a","requestObject":{"rules":[{"verbs":["get","list"]},{"verbs":["*"]}]}}"#;
    assert_eq!(at(role, "ka.req.role.rules.verbs", 1), strings(&["*"]));
    assert_eq!(
        list(role, "ka.req.role.rules.verbs"),
        strings(&["get", "list", "*"])
    );
}

#[test]
fn quirk_image_repository_cuts_at_first_colon() {
    assert_eq!(
        list(POD, "ka.req.pod.containers.image.repository"),
        strings(&["registry", "busybox"])
    );
    assert_eq!(
        one(POD, "ka.req.container.image.repository").as_deref(),
        Some("registry")
    );
    let digest = r#"{"auditID":"a","requestObject":{"spec":{"containers":[{"name":"a","image":"nginx@sha256:1"}]}}}"#;
    assert_eq!(
        list(digest, "ka.req.pod.containers.image.repository"),
        strings(&["nginx"])
    );
}

#[test]
fn quirk_effective_ids_ignore_security_context() {
    // spec.runAsUser (outside securityContext) is 7, no container has a bare runAsUser.
    assert_eq!(
        list(POD, "ka.req.pod.containers.eff_run_as_user"),
        strings(&["7", "7"])
    );
    // Nothing outside securityContext at all: 0 for every container.
    assert_eq!(
        list(POD, "ka.req.pod.containers.eff_run_as_group"),
        strings(&["0", "0"])
    );
    assert_eq!(
        list(POD, "ka.req.pod.containers.run_as_user"),
        strings(&["33"])
    );
    assert_eq!(one(POD, "ka.req.pod.run_as_user").as_deref(), Some("1000"));
}

#[test]
fn quirk_sourceips_never_reads_source_ips() {
    let doc = r#"{"auditID":"a","sourceIPs":["10.0.0.1"]}"#;
    assert_eq!(list(doc, "ka.sourceips"), None);
    // It reads requestObject.rules[].sourceIPs instead.
    let odd = r#"{"auditID":"a","requestObject":{"rules":[{"sourceIPs":["1.2.3.4"]}]}}"#;
    assert_eq!(list(odd, "ka.sourceips"), strings(&["1.2.3.4"]));
}

#[test]
fn quirk_has_name_is_always_true() {
    let doc = r#"{"auditID":"a","requestObject":{"subjects":[{"kind":"User","name":"bob"}]}}"#;
    assert_eq!(
        run(doc, "ka.req.binding.subject.has_name", Arg::Key(b"alice")).unwrap(),
        strings(&["true"])
    );
}

#[test]
fn quirk_service_ports_is_one_item_and_ignores_the_index() {
    let doc = r#"{"auditID":"a","requestObject":{"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080},{"port":443}]}}}"#;
    let whole = r#"[{"port":80,"nodePort":30080},{"port":443}]"#;
    assert_eq!(list(doc, "ka.req.service.ports"), strings(&[whole]));
    assert_eq!(at(doc, "ka.req.service.ports", 1), strings(&[whole]));
}

#[test]
fn container_lists_are_separate() {
    assert_eq!(
        list(POD, "ka.req.pod.containers.privileged"),
        strings(&["true"])
    );
    assert_eq!(
        list(POD, "ka.req.pod.initContainers.privileged"),
        strings(&["true"])
    );
    assert_eq!(
        list(POD, "ka.req.pod.initContainers.image"),
        strings(&["alpine:3"])
    );
    assert_eq!(list(POD, "ka.req.pod.ephemeralContainers.image"), None);
    assert_eq!(
        one(POD, "ka.req.container.privileged").as_deref(),
        Some("true")
    );
    assert_eq!(
        one(POD, "ka.req.container.image").as_deref(),
        Some("registry:5000/team/web:1.2@sha256:abc")
    );
}

#[test]
fn commands_args_and_capabilities() {
    assert_eq!(
        list(POD, "ka.req.pod.containers.command"),
        strings(&["nginx -g daemon off;"])
    );
    assert_eq!(
        list(POD, "ka.req.pod.containers.args"),
        strings(&["sleep 1"])
    );
    assert_eq!(
        list(POD, "ka.req.pod.containers.add_capabilities"),
        strings(&[r#"["NET_ADMIN","SYS_TIME"]"#])
    );
    let bad = r#"{"auditID":"a","requestObject":{"spec":{"containers":[{"command":["a",1]}]}}}"#;
    assert_eq!(
        run(bad, "ka.req.pod.containers.command", Arg::None),
        Err(ExtractError::WrongType)
    );
}

#[test]
fn missing_container_name_is_an_error() {
    let doc = r#"{"auditID":"a","requestObject":{"spec":{"containers":[{"image":"x"}]}}}"#;
    assert_eq!(
        run(doc, "ka.req.pod.containers.name", Arg::None),
        Err(ExtractError::WrongType)
    );
    // ...but with an index the missing value is simply unavailable.
    assert_eq!(at(doc, "ka.req.pod.containers.name", 0), None);
}

#[test]
fn volumes() {
    assert_eq!(
        list(POD, "ka.req.pod.volumes.hostpath"),
        strings(&["/var/run/docker.sock"])
    );
    assert_eq!(
        list(POD, "ka.req.pod.volumes.flexvolume_driver"),
        strings(&["x/y"])
    );
    assert_eq!(
        list(POD, "ka.req.pod.volumes.volume_type"),
        strings(&["hostPath", "configMap", "flexVolume"])
    );
    let hp = |key: &str| run(POD, "ka.req.volume.hostpath", Arg::Key(key.as_bytes())).unwrap();
    assert_eq!(hp("/var/run/docker.sock"), strings(&["true"]));
    assert_eq!(hp("/var/run*"), strings(&["true"]));
    assert_eq!(hp("/var"), strings(&["false"]));
}

#[test]
fn pod_security_context_fields() {
    assert_eq!(one(POD, "ka.req.pod.fs_group").as_deref(), Some("2000"));
    assert_eq!(
        list(POD, "ka.req.pod.supplemental_groups"),
        strings(&["1", "2"])
    );
}

#[test]
fn target_pod_name_only_for_pods_without_subresource() {
    assert_eq!(one(POD, "ka.target.pod.name").as_deref(), Some("web-1"));
    let exec = POD.replace(
        r#""resource":"pods""#,
        r#""resource":"pods","subresource":"exec""#,
    );
    assert_eq!(one(&exec, "ka.target.pod.name"), None);
    assert_eq!(one(POD, "ka.resp.name").as_deref(), Some("web-1"));
}

#[test]
fn binding_subjects() {
    let doc = r#"{"auditID":"a","requestObject":{"roleRef":{"name":"cluster-admin"},"subjects":[
        {"kind":"User","name":"alice"},{"kind":"ServiceAccount","name":"sa","namespace":"ns"},
        {"kind":"ServiceAccount","name":"nons"},{"kind":"Group","name":"devs"},{"kind":"User"}]}}"#;
    assert_eq!(
        list(doc, "ka.req.binding.subjects.user_names"),
        strings(&["alice"])
    );
    assert_eq!(
        list(doc, "ka.req.binding.subjects.serviceaccount_names"),
        strings(&["sa", "nons"])
    );
    assert_eq!(
        list(doc, "ka.req.binding.subjects.serviceaccount_ns_names"),
        strings(&["ns:sa"])
    );
    assert_eq!(
        list(doc, "ka.req.binding.subjects.group_names"),
        strings(&["devs"])
    );
    assert_eq!(
        one(doc, "ka.req.binding.role").as_deref(),
        Some("cluster-admin")
    );
    assert_eq!(
        list(doc, "ka.req.binding.subjects").map(|v| v.len()),
        Some(5)
    );
}

#[test]
fn uri_param() {
    let doc = r#"{"auditID":"a","requestURI":"/api/v1/namespaces/d/pods/p/exec?command=sh&command=-c&stdin=true"}"#;
    let p = |k: &str| run(doc, "ka.uri.param", Arg::Key(k.as_bytes()));
    assert_eq!(p("command").unwrap(), strings(&["sh"]));
    assert_eq!(p("tty").unwrap(), None);
    let bad = r#"{"auditID":"a","requestURI":"/x?a=1;b"}"#;
    assert!(run(bad, "ka.uri.param", Arg::Key(b"a")).is_err());
}

#[test]
fn cluster_name_reads_the_annotation() {
    let doc = r#"{"auditID":"a","annotations":{"cluster_name":"prod"}}"#;
    assert_eq!(one(doc, "ka.cluster.name").as_deref(), Some("prod"));
}

#[test]
fn index_picks_a_volume_before_reading_its_path() {
    assert_eq!(
        at(POD, "ka.req.pod.volumes.hostpath", 0),
        strings(&["/var/run/docker.sock"])
    );
    assert_eq!(at(POD, "ka.req.pod.volumes.hostpath", 1), None);
    assert_eq!(
        at(POD, "ka.req.pod.volumes.volume_type", 1),
        strings(&["configMap"])
    );
}
