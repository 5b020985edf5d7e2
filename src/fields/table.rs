//! The field table. Order matters: the `ka.*` block is in k8saudit 0.18.0's declared order.

use super::eks::Eks;
use super::json::JsonField;
use super::ka::{ContainerField as C, ContainerList as L, Ka, SubjectKind};
use super::{ArgKind, Extractor, FieldInfo, Provider};
use crate::event::KeyPath;

const fn ka(
    name: &'static str,
    list: bool,
    arg: ArgKind,
    description: &'static str,
    k: Ka,
) -> FieldInfo {
    FieldInfo {
        name,
        list,
        arg,
        description,
        provider: Provider::Plugin,
        extractor: Extractor::Ka(k),
    }
}

/// A scalar `ka.*` field read by plain path lookup.
const fn path(
    name: &'static str,
    description: &'static str,
    p: &'static [&'static str],
) -> FieldInfo {
    ka(
        name,
        false,
        ArgKind::None,
        description,
        Ka::Path(KeyPath::new(p)),
    )
}

/// A per-container list field (optional index selects a container).
const fn container(name: &'static str, description: &'static str, list: L, field: C) -> FieldInfo {
    ka(
        name,
        true,
        ArgKind::OptionalIndex,
        description,
        Ka::Container(list, field),
    )
}

const fn eks(name: &'static str, description: &'static str, e: Eks) -> FieldInfo {
    FieldInfo {
        name,
        list: false,
        arg: ArgKind::None,
        description,
        provider: Provider::Plugin,
        extractor: Extractor::Eks(e),
    }
}

const fn json(
    name: &'static str,
    arg: ArgKind,
    description: &'static str,
    j: JsonField,
) -> FieldInfo {
    FieldInfo {
        name,
        list: false,
        arg,
        description,
        provider: Provider::JsonPlugin,
        extractor: Extractor::Json(j),
    }
}

/// The init- and ephemeral-container blocks, declared like upstream's `containerListFields`.
macro_rules! container_block {
    ($list:expr, $prefix:literal, $what:literal $(, $host_port:tt)?) => {
        [
            container(concat!($prefix, "name"), concat!("Names of the pod's ", $what, " in the request."), $list, C::Name),
            container(concat!($prefix, "image"), concat!("Images of the pod's ", $what, " in the request."), $list, C::Image),
            container(concat!($prefix, "image.repository"), concat!("Images of the pod's ", $what, " cut at the first ':' (the repository, e.g. falcosecurity/falco)."), $list, C::ImageRepository),
            container(concat!($prefix, "command"), concat!("Command of each of the pod's ", $what, " that sets one, its items joined by spaces."), $list, C::Command),
            container(concat!($prefix, "args"), concat!("Arguments of each of the pod's ", $what, " that sets them, joined by spaces."), $list, C::Args),
            container(concat!($prefix, "privileged"), concat!("securityContext.privileged of the pod's ", $what, " that set it."), $list, C::Privileged),
            container(concat!($prefix, "allow_privilege_escalation"), concat!("securityContext.allowPrivilegeEscalation of the pod's ", $what, " that set it."), $list, C::AllowPrivilegeEscalation),
            container(concat!($prefix, "read_only_fs"), concat!("securityContext.readOnlyRootFilesystem of the pod's ", $what, " that set it."), $list, C::ReadOnlyFs),
            container(concat!($prefix, "run_as_user"), concat!("securityContext.runAsUser of the pod's ", $what, " that set it."), $list, C::RunAsUser),
            container(concat!($prefix, "eff_run_as_user"), concat!("Effective uid of each of the pod's ", $what, ", read as upstream does (runAsUser outside securityContext, else 0)."), $list, C::EffRunAsUser),
            container(concat!($prefix, "run_as_group"), concat!("securityContext.runAsGroup of the pod's ", $what, " that set it."), $list, C::RunAsGroup),
            container(concat!($prefix, "eff_run_as_group"), concat!("Effective gid of each of the pod's ", $what, ", read as upstream does (runAsGroup outside securityContext, else 0)."), $list, C::EffRunAsGroup),
            container(concat!($prefix, "proc_mount"), concat!("securityContext.procMount of the pod's ", $what, " that set it."), $list, C::ProcMount),
            container(concat!($prefix, "add_capabilities"), concat!("securityContext.capabilities.add of each of the pod's ", $what, ", one JSON array per container."), $list, C::AddCapabilities),
            $(container(concat!($prefix, "host_port"), concat!("Host ports of the pod's ", $what, " (hostPort, else containerPort, for every port)."), $list, C::$host_port),)?
        ]
    };
}

const INIT: [FieldInfo; 15] = container_block!(
    L::Init,
    "ka.req.pod.initContainers.",
    "init containers",
    HostPort
);
const EPHEMERAL: [FieldInfo; 14] = container_block!(
    L::Ephemeral,
    "ka.req.pod.ephemeralContainers.",
    "ephemeral containers"
);

const KA: [FieldInfo; 71] = [
    path(
        "ka.auditid",
        "The audit event's unique id (auditID).",
        &["auditID"],
    ),
    path(
        "ka.stage",
        "The stage of the request (RequestReceived, ResponseStarted, ResponseComplete, Panic).",
        &["stage"],
    ),
    path(
        "ka.auth.decision",
        "The authorization decision annotation (allow or forbid).",
        &["annotations", "authorization.k8s.io/decision"],
    ),
    path(
        "ka.auth.reason",
        "The authorization reason annotation (e.g. which RBAC binding allowed it).",
        &["annotations", "authorization.k8s.io/reason"],
    ),
    path(
        "ka.auth.openshift.decision",
        "The OpenShift authentication decision annotation.",
        &["annotations", "authentication.openshift.io/decision"],
    ),
    path(
        "ka.validations.admission.policy.failure",
        "The validating admission policy failure annotation.",
        &[
            "annotations",
            "validation.policy.admission.k8s.io/validation_failure",
        ],
    ),
    path(
        "ka.security.pod.violations",
        "The Pod Security admission audit-violations annotation.",
        &["annotations", "pod-security.kubernetes.io/audit-violations"],
    ),
    path(
        "ka.auth.openshift.username",
        "The OpenShift authentication username annotation.",
        &["annotations", "authentication.openshift.io/username"],
    ),
    path(
        "ka.user.name",
        "The name of the user who made the request.",
        &["user", "username"],
    ),
    ka(
        "ka.user.groups",
        true,
        ArgKind::None,
        "The groups of the user who made the request.",
        Ka::Path(KeyPath::new(&["user", "groups"])),
    ),
    path(
        "ka.impuser.name",
        "The name of the impersonated user, when the request used impersonation.",
        &["impersonatedUser", "username"],
    ),
    path(
        "ka.verb",
        "The action of the request (get, list, create, update, patch, delete, ...).",
        &["verb"],
    ),
    path(
        "ka.uri",
        "The request URI as sent to the API server, query string included.",
        &["requestURI"],
    ),
    ka(
        "ka.uri.param",
        false,
        ArgKind::RequiredKey,
        "The first value of the given query parameter of the request URI, e.g. ka.uri.param[command].",
        Ka::UriParam,
    ),
    path(
        "ka.target.name",
        "The name of the object the request acts on.",
        &["objectRef", "name"],
    ),
    path(
        "ka.target.namespace",
        "The namespace of the object the request acts on.",
        &["objectRef", "namespace"],
    ),
    path(
        "ka.target.resource",
        "The resource type of the object the request acts on (pods, secrets, ...).",
        &["objectRef", "resource"],
    ),
    path(
        "ka.target.subresource",
        "The subresource the request acts on (exec, attach, status, ...).",
        &["objectRef", "subresource"],
    ),
    ka(
        "ka.target.pod.name",
        false,
        ArgKind::None,
        "For requests on pods without a subresource, the pod name from the response object.",
        Ka::TargetPodName,
    ),
    ka(
        "ka.req.binding.subjects",
        true,
        ArgKind::None,
        "For (cluster) role bindings, each subject of the request object as JSON.",
        Ka::Path(KeyPath::new(&["requestObject", "subjects"])),
    ),
    ka(
        "ka.req.binding.subjects.user_names",
        true,
        ArgKind::None,
        "For (cluster) role bindings, the names of the User subjects.",
        Ka::Subjects(SubjectKind::User),
    ),
    ka(
        "ka.req.binding.subjects.serviceaccount_names",
        true,
        ArgKind::None,
        "For (cluster) role bindings, the names of the ServiceAccount subjects.",
        Ka::Subjects(SubjectKind::ServiceAccount),
    ),
    ka(
        "ka.req.binding.subjects.serviceaccount_ns_names",
        true,
        ArgKind::None,
        "For (cluster) role bindings, namespace:name of the ServiceAccount subjects that name a namespace.",
        Ka::Subjects(SubjectKind::NamespacedServiceAccount),
    ),
    ka(
        "ka.req.binding.subjects.group_names",
        true,
        ArgKind::None,
        "For (cluster) role bindings, the names of the Group subjects.",
        Ka::Subjects(SubjectKind::Group),
    ),
    path(
        "ka.req.binding.role",
        "For (cluster) role bindings, the name of the bound role (roleRef.name).",
        &["requestObject", "roleRef", "name"],
    ),
    ka(
        "ka.req.binding.subject.has_name",
        false,
        ArgKind::RequiredKey,
        "Deprecated; always \"true\" as in upstream (use ka.req.binding.subjects.* instead).",
        Ka::HasName,
    ),
    path(
        "ka.req.configmap.name",
        "For configmaps, the name of the configmap (same as ka.target.name).",
        &["objectRef", "name"],
    ),
    path(
        "ka.req.configmap.obj",
        "For configmaps, the data of the request object as JSON.",
        &["requestObject", "data"],
    ),
    container(
        "ka.req.pod.containers.args",
        "Arguments of each of the pod's containers that sets them, joined by spaces.",
        L::Containers,
        C::Args,
    ),
    container(
        "ka.req.pod.containers.command",
        "Command of each of the pod's containers that sets one, its items joined by spaces.",
        L::Containers,
        C::Command,
    ),
    container(
        "ka.req.pod.containers.name",
        "Names of the pod's containers in the request.",
        L::Containers,
        C::Name,
    ),
    container(
        "ka.req.pod.containers.image",
        "Images of the pod's containers in the request.",
        L::Containers,
        C::Image,
    ),
    ka(
        "ka.req.container.image",
        false,
        ArgKind::None,
        "Deprecated; the image of the pod's first container.",
        Ka::FirstContainerImage,
    ),
    container(
        "ka.req.pod.containers.image.repository",
        "Images of the pod's containers cut at the first ':' (the repository, e.g. falcosecurity/falco).",
        L::Containers,
        C::ImageRepository,
    ),
    ka(
        "ka.req.container.image.repository",
        false,
        ArgKind::None,
        "Deprecated; the repository of the pod's first container image.",
        Ka::FirstContainerRepository,
    ),
    path(
        "ka.req.pod.host_ipc",
        "For pods, spec.hostIPC of the request object.",
        &["requestObject", "spec", "hostIPC"],
    ),
    path(
        "ka.req.pod.host_network",
        "For pods, spec.hostNetwork of the request object.",
        &["requestObject", "spec", "hostNetwork"],
    ),
    path(
        "ka.req.container.host_network",
        "Deprecated alias of ka.req.pod.host_network.",
        &["requestObject", "spec", "hostNetwork"],
    ),
    path(
        "ka.req.pod.host_pid",
        "For pods, spec.hostPID of the request object.",
        &["requestObject", "spec", "hostPID"],
    ),
    container(
        "ka.req.pod.containers.host_port",
        "Host ports of the pod's containers (hostPort, else containerPort, for every port).",
        L::Containers,
        C::HostPort,
    ),
    container(
        "ka.req.pod.containers.privileged",
        "securityContext.privileged of the pod's containers that set it.",
        L::Containers,
        C::Privileged,
    ),
    ka(
        "ka.req.container.privileged",
        false,
        ArgKind::None,
        "Deprecated; \"true\" when any of the pod's containers is privileged, else \"false\".",
        Ka::AnyContainerPrivileged,
    ),
    container(
        "ka.req.pod.containers.allow_privilege_escalation",
        "securityContext.allowPrivilegeEscalation of the pod's containers that set it.",
        L::Containers,
        C::AllowPrivilegeEscalation,
    ),
    container(
        "ka.req.pod.containers.read_only_fs",
        "securityContext.readOnlyRootFilesystem of the pod's containers that set it.",
        L::Containers,
        C::ReadOnlyFs,
    ),
    path(
        "ka.req.pod.run_as_user",
        "For pods, spec.securityContext.runAsUser of the request object.",
        &["requestObject", "spec", "securityContext", "runAsUser"],
    ),
    container(
        "ka.req.pod.containers.run_as_user",
        "securityContext.runAsUser of the pod's containers that set it.",
        L::Containers,
        C::RunAsUser,
    ),
    container(
        "ka.req.pod.containers.eff_run_as_user",
        "Effective uid of each of the pod's containers, read as upstream does (runAsUser outside securityContext, else 0).",
        L::Containers,
        C::EffRunAsUser,
    ),
    path(
        "ka.req.pod.run_as_group",
        "For pods, spec.securityContext.runAsGroup of the request object.",
        &["requestObject", "spec", "securityContext", "runAsGroup"],
    ),
    container(
        "ka.req.pod.containers.run_as_group",
        "securityContext.runAsGroup of the pod's containers that set it.",
        L::Containers,
        C::RunAsGroup,
    ),
    container(
        "ka.req.pod.containers.eff_run_as_group",
        "Effective gid of each of the pod's containers, read as upstream does (runAsGroup outside securityContext, else 0).",
        L::Containers,
        C::EffRunAsGroup,
    ),
    container(
        "ka.req.pod.containers.proc_mount",
        "securityContext.procMount of the pod's containers that set it.",
        L::Containers,
        C::ProcMount,
    ),
    ka(
        "ka.req.role.rules",
        true,
        ArgKind::None,
        "For (cluster) roles, each rule of the request object as JSON.",
        Ka::Path(KeyPath::new(&["requestObject", "rules"])),
    ),
    ka(
        "ka.req.role.rules.apiGroups",
        true,
        ArgKind::OptionalIndex,
        "For (cluster) roles, the apiGroups of all rules (an index selects one rule).",
        Ka::RoleRules("apiGroups"),
    ),
    ka(
        "ka.req.role.rules.nonResourceURLs",
        true,
        ArgKind::OptionalIndex,
        "For (cluster) roles, the nonResourceURLs of all rules (an index selects one rule).",
        Ka::RoleRules("nonResourceURLs"),
    ),
    ka(
        "ka.req.role.rules.verbs",
        true,
        ArgKind::OptionalIndex,
        "For (cluster) roles, the verbs of all rules (an index selects one rule).",
        Ka::RoleRules("verbs"),
    ),
    ka(
        "ka.req.role.rules.resources",
        true,
        ArgKind::OptionalIndex,
        "For (cluster) roles, the resources of all rules (an index selects one rule).",
        Ka::RoleRules("resources"),
    ),
    path(
        "ka.req.pod.fs_group",
        "For pods, spec.securityContext.fsGroup of the request object.",
        &["requestObject", "spec", "securityContext", "fsGroup"],
    ),
    ka(
        "ka.req.pod.supplemental_groups",
        true,
        ArgKind::None,
        "For pods, spec.securityContext.supplementalGroups of the request object.",
        Ka::Path(KeyPath::new(&[
            "requestObject",
            "spec",
            "securityContext",
            "supplementalGroups",
        ])),
    ),
    container(
        "ka.req.pod.containers.add_capabilities",
        "securityContext.capabilities.add of each of the pod's containers, one JSON array per container.",
        L::Containers,
        C::AddCapabilities,
    ),
    path(
        "ka.req.service.type",
        "For services, spec.type of the request object.",
        &["requestObject", "spec", "type"],
    ),
    ka(
        "ka.req.service.ports",
        true,
        ArgKind::OptionalIndex,
        "For services, spec.ports of the request object as one JSON item (the index is ignored, as upstream).",
        Ka::ServicePorts,
    ),
    ka(
        "ka.req.pod.volumes.hostpath",
        true,
        ArgKind::OptionalIndex,
        "For pods, the hostPath.path of each volume that has one.",
        Ka::VolumeValues(&["hostPath", "path"]),
    ),
    ka(
        "ka.req.volume.hostpath",
        false,
        ArgKind::RequiredKey,
        "Deprecated; \"true\" when a hostPath volume equals the key (or starts with it when the key ends in '*'), else \"false\".",
        Ka::VolumeHostPathMatch,
    ),
    ka(
        "ka.req.pod.volumes.flexvolume_driver",
        true,
        ArgKind::OptionalIndex,
        "For pods, the flexVolume.driver of each volume that has one.",
        Ka::VolumeValues(&["flexVolume", "driver"]),
    ),
    ka(
        "ka.req.pod.volumes.volume_type",
        true,
        ArgKind::OptionalIndex,
        "For pods, the type of each volume (every key of the volume but name, e.g. hostPath).",
        Ka::VolumeTypes,
    ),
    path(
        "ka.resp.name",
        "The name of the object in the response (responseObject.metadata.name).",
        &["responseObject", "metadata", "name"],
    ),
    path(
        "ka.response.code",
        "The HTTP status code of the response, as text.",
        &["responseStatus", "code"],
    ),
    path(
        "ka.response.reason",
        "The reason of the response status (e.g. Forbidden, NotFound).",
        &["responseStatus", "reason"],
    ),
    path(
        "ka.useragent",
        "The user agent of the client that made the request.",
        &["userAgent"],
    ),
    ka(
        "ka.sourceips",
        true,
        ArgKind::OptionalIndex,
        "Meant to be the source IPs; as in upstream it reads requestObject.rules[].sourceIPs, so it has no value on real events (use jevt.value[/sourceIPs/0]).",
        Ka::RoleRules("sourceIPs"),
    ),
    path(
        "ka.cluster.name",
        "The cluster name from annotations.cluster_name (eksaudit sets it from the log group when absent).",
        &["annotations", "cluster_name"],
    ),
];

const EKS: [FieldInfo; 15] = [
    eks(
        "eks.cluster",
        "The EKS cluster the event came from (from the log group /aws/eks/<cluster>/cluster).",
        Eks::Cluster,
    ),
    eks(
        "eks.account",
        "The AWS account that owns the cluster's log group (the CloudWatch envelope's owner).",
        Eks::Account,
    ),
    eks(
        "eks.region",
        "The AWS region the event was read from.",
        Eks::Region,
    ),
    eks(
        "eks.log_group",
        "The CloudWatch Logs log group the event came from.",
        Eks::LogGroup,
    ),
    eks(
        "eks.log_stream",
        "The CloudWatch Logs log stream the event came from (kube-apiserver-audit-...).",
        Eks::LogStream,
    ),
    eks(
        "eks.kinesis.shard",
        "The Kinesis shard id the event was read from (kinesis:// sources).",
        Eks::KinesisShard,
    ),
    eks(
        "eks.kinesis.sequence",
        "The sequence number of the Kinesis record the event came in (kinesis:// sources).",
        Eks::KinesisSequence,
    ),
    eks(
        "eks.source_ip",
        "The client IP of the request (sourceIPs[0]; upstream's ka.sourceips never has a value).",
        Eks::SourceIp,
    ),
    eks(
        "eks.iam.arn",
        "The IAM ARN of the AWS caller (user.extra.arn), e.g. an assumed-role session ARN.",
        Eks::Arn,
    ),
    eks(
        "eks.iam.canonical_arn",
        "The canonical IAM ARN of the AWS caller (user.extra.canonicalArn): the role, not the session.",
        Eks::CanonicalArn,
    ),
    eks(
        "eks.iam.principal_id",
        "The IAM principal id (user.extra.principalId, else the last part of user.uid).",
        Eks::PrincipalId,
    ),
    eks(
        "eks.iam.session_name",
        "The role session name of an assumed-role caller (user.extra.sessionName).",
        Eks::SessionName,
    ),
    eks(
        "eks.iam.access_key_id",
        "The access key id the AWS caller signed with (user.extra.accessKeyId).",
        Eks::AccessKeyId,
    ),
    eks(
        "eks.iam.kind",
        "The kind of IAM principal: user, role, assumed-role, federated-user or root.",
        Eks::Kind,
    ),
    eks(
        "eks.iam.account",
        "The AWS account of the IAM principal (from its ARN, else from user.uid).",
        Eks::IdentityAccount,
    ),
];

const JSON: [FieldInfo; 6] = [
    json(
        "json.value",
        ArgKind::RequiredKey,
        "The value at a JSON pointer (RFC 6901) in the event, e.g. json.value[/stage].",
        JsonField::Value,
    ),
    json(
        "json.obj",
        ArgKind::None,
        "The whole event as indented JSON.",
        JsonField::Obj,
    ),
    json(
        "json.rawtime",
        ArgKind::None,
        "The event time in nanoseconds since the epoch.",
        JsonField::RawTime,
    ),
    json(
        "jevt.value",
        ArgKind::RequiredKey,
        "Alias of json.value.",
        JsonField::Value,
    ),
    json(
        "jevt.obj",
        ArgKind::None,
        "Alias of json.obj.",
        JsonField::Obj,
    ),
    json(
        "jevt.rawtime",
        ArgKind::None,
        "Alias of json.rawtime.",
        JsonField::RawTime,
    ),
];

const fn concat_tables<const N: usize>(parts: [&[FieldInfo]; 5]) -> [FieldInfo; N] {
    let mut out = [KA[0]; N];
    let mut n = 0;
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[n] = parts[p][i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(n == N, "field table length mismatch");
    out
}

const COUNT: usize = KA.len() + INIT.len() + EPHEMERAL.len() + EKS.len() + JSON.len();

/// The table as a constant, for building other constant tables from it (the plugin's).
pub(crate) const TABLE: [FieldInfo; COUNT] = concat_tables([&KA, &INIT, &EPHEMERAL, &EKS, &JSON]);

/// Every field, in the order `eksaudit fields` and the plugin list them.
pub static FIELDS: [FieldInfo; COUNT] = TABLE;
