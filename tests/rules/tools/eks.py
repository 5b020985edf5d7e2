"""Builders of EKS audit events as EKS writes them, for the fixture generators.

audit.k8s.io/v1 events with the EKS authenticator's user (uid
`aws-iam-authenticator:<account>:<principal id>`, `user.extra` with `accessKeyId`, `arn`,
`canonicalArn`, `principalId`, `sessionName` as one-element arrays), the EKS audit policy's
levels (Secrets, ConfigMaps and TokenRequests at Metadata: no bodies), both authorization
annotations, and stages as EKS logs them (no RequestReceived).
"""

import itertools
import json
import zlib

ACCOUNT = "111122223333"
_ids = itertools.count(1)
_clock = itertools.count(0)


def _ts():
    n = next(_clock)
    s, us = divmod(n * 137_031, 1_000_000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"2025-06-12T{9 + h:02d}:{m:02d}:{s:02d}.{us:06d}Z"


def iam(role, session, kind="assumed-role", username=None, groups=None, principal_id=None, key=None):
    """An AWS principal through the EKS authenticator (access entry or aws-auth mapping)."""
    pid = principal_id or ("AROA" + (role.upper().replace("-", "")[:12]).ljust(12, "X") + "EXAMPLE")
    if kind == "assumed-role":
        arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"
        canonical = f"arn:aws:iam::{ACCOUNT}:role/{role}"
        key = key or "ASIA" + pid[4:16]
    else:
        arn = f"arn:aws:iam::{ACCOUNT}:user/{role}"
        canonical = arn
        session = ""
        pid = principal_id or ("AIDA" + role.upper()[:12].ljust(12, "X") + "EXAMPLE")
        key = key or "AKIA" + pid[4:16]
    return {
        "username": username or arn,
        "uid": f"aws-iam-authenticator:{ACCOUNT}:{pid}",
        "groups": groups or ["system:authenticated"],
        "extra": {
            "accessKeyId": [key],
            "arn": [arn],
            "canonicalArn": [canonical],
            "principalId": [pid],
            "sessionName": [session],
        },
    }


ALICE = iam("Admin", "alice")                      # a person, through an access entry
BOB = iam("bob", "", kind="user")                  # an IAM user
CAROL = iam("Developer", "carol", username="Developer:carol", groups=["developers", "system:authenticated"])  # aws-auth mapping
CI = iam("github-actions-deploy", "GitHubActions")  # the deployment pipeline
MASTERS = iam("PlatformAdmin", "dave", username="PlatformAdmin:dave", groups=["system:masters", "system:authenticated"])


def node(ip="10-0-12-34"):
    u = iam("eks-node-group-role", "i-0a1b2c3d4e5f60718", username=f"system:node:ip-{ip}.eu-west-1.compute.internal",
            groups=["system:bootstrappers", "system:nodes", "system:authenticated"])
    return u


NODE = node()


def sa(ns, name, pod=None):
    u = {
        "username": f"system:serviceaccount:{ns}:{name}",
        "uid": f"{zlib.crc32((ns + '/' + name).encode()) % 10**8:08d}-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
    }
    if pod:
        u["extra"] = {
            "authentication.kubernetes.io/credential-id": ["JTI=5f0e1d2c-3b4a-5968-7a8b-9c0d1e2f3a4b"],
            "authentication.kubernetes.io/node-name": ["ip-10-0-12-34.eu-west-1.compute.internal"],
            "authentication.kubernetes.io/pod-name": [pod],
            "authentication.kubernetes.io/pod-uid": ["0f1e2d3c-4b5a-6978-8a9b-ac0d1e2f3a4b"],
        }
    return u


def component(name, groups=None):
    return {"username": name, "groups": groups or ["system:authenticated"]}


APP_SA = sa("shop", "web", pod="web-7c9d8f6b5-x2k4q")
ANON = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
KCM = component("system:kube-controller-manager")
RS_CONTROLLER = sa("kube-system", "replicaset-controller")
ADDON_MANAGER = component("eks:addon-manager")

GROUPS = {
    "": None, "apps": "v1", "batch": "v1", "rbac.authorization.k8s.io": "v1",
    "networking.k8s.io": "v1", "admissionregistration.k8s.io": "v1",
    "certificates.k8s.io": "v1", "authorization.k8s.io": "v1", "authentication.k8s.io": "v1",
    "events.k8s.io": "v1", "coordination.k8s.io": "v1", "discovery.k8s.io": "v1",
    "autoscaling": "v2", "policy": "v1", "metrics.k8s.io": "v1beta1",
}
RESOURCE_GROUP = {
    "deployments": "apps", "daemonsets": "apps", "statefulsets": "apps", "replicasets": "apps",
    "jobs": "batch", "cronjobs": "batch",
    "roles": "rbac.authorization.k8s.io", "clusterroles": "rbac.authorization.k8s.io",
    "rolebindings": "rbac.authorization.k8s.io", "clusterrolebindings": "rbac.authorization.k8s.io",
    "ingresses": "networking.k8s.io", "networkpolicies": "networking.k8s.io",
    "mutatingwebhookconfigurations": "admissionregistration.k8s.io",
    "validatingwebhookconfigurations": "admissionregistration.k8s.io",
    "validatingadmissionpolicies": "admissionregistration.k8s.io",
    "certificatesigningrequests": "certificates.k8s.io",
    "selfsubjectaccessreviews": "authorization.k8s.io", "selfsubjectrulesreviews": "authorization.k8s.io",
    "subjectaccessreviews": "authorization.k8s.io",
    "selfsubjectreviews": "authentication.k8s.io", "tokenreviews": "authentication.k8s.io",
    "leases": "coordination.k8s.io", "endpointslices": "discovery.k8s.io",
    "horizontalpodautoscalers": "autoscaling", "poddisruptionbudgets": "policy",
    "pods.metrics.k8s.io": "metrics.k8s.io",
}
CLUSTER_SCOPED = {"nodes", "namespaces", "clusterroles", "clusterrolebindings", "mutatingwebhookconfigurations",
                  "validatingwebhookconfigurations", "validatingadmissionpolicies", "certificatesigningrequests",
                  "selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews", "tokenreviews",
                  "subjectaccessreviews", "persistentvolumes", "storageclasses", "customresourcedefinitions"}
METADATA_ONLY = {"secrets", "configmaps", "tokenreviews"}

USER_AGENTS = {
    "kubectl": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
    "kubectl-old": "kubectl/v1.28.4 (darwin/arm64) kubernetes/bae2c62",
    "helm": "Helm/3.16.2",
    "browser": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "curl": "curl/8.5.0",
}


def _uri(resource, ns, name, sub, verb, query=None, group=None):
    group = RESOURCE_GROUP.get(resource, "") if group is None else group
    base = "/api/v1" if group == "" else f"/apis/{group}/{GROUPS.get(group) or 'v1'}"
    parts = [base]
    if ns and resource not in CLUSTER_SCOPED:
        parts.append(f"/namespaces/{ns}")
    parts.append(f"/{resource}")
    if name and verb not in ("create", "list", "watch", "deletecollection") or (name and sub):
        parts.append(f"/{name}")
    if sub:
        parts.append(f"/{sub}")
    uri = "".join(parts)
    if query:
        uri += "?" + query
    return uri


def event(verb, resource=None, ns=None, name=None, sub=None, user=None, code=None, stage="ResponseComplete",
          level=None, req=None, resp=None, uri=None, query=None, ua="kubectl", ip="203.0.113.10",
          decision=None, reason=None, impersonated=None, group=None, extra_annotations=None, status_reason=None):
    """One EKS audit event. Unset values get the defaults EKS would write."""
    user = ALICE if user is None else user
    if code is None:
        code = 201 if verb == "create" else 200
    if decision is None:
        decision = "forbid" if code == 403 else "allow"
    if level is None:
        if resource in METADATA_ONLY or (resource == "serviceaccounts" and sub == "token") or sub in ("exec", "attach", "portforward", "proxy"):
            level = "Metadata"
        elif verb in ("get", "list", "watch"):
            level = "Request"
        else:
            level = "RequestResponse"
    e = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": f"{next(_ids):08x}-5e1f-4c3b-9a2d-7b6c5d4e3f2a",
        "stage": stage,
        "requestURI": uri or _uri(resource, ns, name, sub, verb, query, group),
        "verb": verb,
        "user": user,
    }
    if impersonated:
        e["impersonatedUser"] = impersonated
    e["sourceIPs"] = [ip]
    e["userAgent"] = USER_AGENTS.get(ua, ua)
    if resource:
        ref = {"resource": resource}
        if ns and resource not in CLUSTER_SCOPED:
            ref["namespace"] = ns
        if name:
            ref["name"] = name
        g = RESOURCE_GROUP.get(resource, "") if group is None else group
        if g:
            ref["apiGroup"] = g
        ref["apiVersion"] = GROUPS.get(g) or "v1"
        if sub:
            ref["subresource"] = sub
        e["objectRef"] = ref
    status = {"metadata": {}, "code": code}
    if code >= 400:
        status["status"] = "Failure"
        status["reason"] = status_reason or {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "AlreadyExists", 422: "Invalid"}.get(code, "")
        status["message"] = f"{resource} is forbidden" if code == 403 else ""
    e["responseStatus"] = status
    if level in ("Request", "RequestResponse") and req is not None:
        e["requestObject"] = req
    if level == "RequestResponse" and resp is not None:
        e["responseObject"] = resp
    t = _ts()
    e["requestReceivedTimestamp"] = t
    e["stageTimestamp"] = t
    ann = {}
    if code != 401:
        ann["authorization.k8s.io/decision"] = decision
        ann["authorization.k8s.io/reason"] = reason if reason is not None else (
            'EKS Access Policy: allowed by ClusterRoleBinding "arn:aws:iam::111122223333:role/Admin+arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" of ClusterRole "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" to User "' + user.get("username", "") + '"'
            if decision == "allow" and user is ALICE else ('RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"' if decision == "allow" and user is ANON else ("" if decision == "forbid" else 'RBAC: allowed by RoleBinding "edit/shop" of ClusterRole "edit"')))
    if extra_annotations:
        ann.update(extra_annotations)
    if ann:
        e["annotations"] = ann
    return e


def started(verb, resource, ns, name, sub, query, user=None, **kw):
    """A streaming request (exec, attach, port-forward) at ResponseStarted: upgraded, 101."""
    return event(verb, resource, ns, name, sub, user=user, code=101, stage="ResponseStarted", query=query, **kw)


def exec_pair(ns, name, query, user=None, verb="get", sub="exec", **kw):
    """The two events of an exec: ResponseStarted (101) and ResponseComplete (101)."""
    a = started(verb, "pods", ns, name, sub, query, user=user, **kw)
    b = dict(a)
    b["stage"] = "ResponseComplete"
    b["stageTimestamp"] = _ts()
    return [a, b]


# --- objects --------------------------------------------------------------------------------

def meta(name, ns=None, **extra):
    m = {"name": name}
    if ns:
        m["namespace"] = ns
    m.update(extra)
    return m


def container(name="app", image="111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/web:1.42.0", sc=None, **extra):
    c = {"name": name, "image": image, "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
    if sc is not None:
        c["securityContext"] = sc
    c.update(extra)
    return c


def pod_spec(containers=None, init=None, ephemeral=None, volumes=None, **extra):
    s = {"containers": containers or [container()]}
    if init:
        s["initContainers"] = init
    if ephemeral:
        s["ephemeralContainers"] = ephemeral
    if volumes:
        s["volumes"] = volumes
    s.update(extra)
    return s


def pod(name, ns, spec=None, labels=None):
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta(name, ns, labels=labels or {"app": name}), "spec": spec or pod_spec()}


def deployment(name, ns, spec=None, kind="Deployment", api="apps/v1", replicas=2):
    s = {"selector": {"matchLabels": {"app": name}},
         "template": {"metadata": {"labels": {"app": name}}, "spec": spec or pod_spec()}}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        s["replicas"] = replicas
    return {"kind": kind, "apiVersion": api, "metadata": meta(name, ns), "spec": s}


def cronjob(name, ns, spec=None, schedule="*/5 * * * *"):
    return {"kind": "CronJob", "apiVersion": "batch/v1", "metadata": meta(name, ns),
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": spec or pod_spec(restartPolicy="OnFailure")}}}}}


def job(name, ns, spec=None):
    return {"kind": "Job", "apiVersion": "batch/v1", "metadata": meta(name, ns),
            "spec": {"template": {"spec": spec or pod_spec(restartPolicy="Never")}}}


def hostpath(name, path, type_=None):
    hp = {"path": path}
    if type_:
        hp["type"] = type_
    return {"name": name, "hostPath": hp}


def binding(name, role, subjects, ns=None, role_kind="ClusterRole"):
    kind = "RoleBinding" if ns else "ClusterRoleBinding"
    return {"kind": kind, "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": meta(name, ns),
            "subjects": subjects, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}}


def user_subject(name):
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def group_subject(name):
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def sa_subject(name, ns):
    return {"kind": "ServiceAccount", "name": name, "namespace": ns}


def role(name, rules, ns=None):
    kind = "Role" if ns else "ClusterRole"
    return {"kind": kind, "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": meta(name, ns), "rules": rules}


def rule(groups, resources, verbs):
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def service(name, ns, type_="ClusterIP", selector=None, ports=None):
    return {"kind": "Service", "apiVersion": "v1", "metadata": meta(name, ns),
            "spec": {"type": type_, "selector": selector or {"app": name},
                     "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}


def status_of(obj, **extra):
    """What the API server returns: the object with server-set metadata."""
    o = json.loads(json.dumps(obj))
    o.setdefault("metadata", {})
    o["metadata"].update({"uid": "6f1e2d3c-4b5a-4978-8a9b-ac0d1e2f3a4b", "resourceVersion": "48213",
                          "creationTimestamp": "2025-06-12T08:59:00Z"})
    o.update(extra)
    return o


def dump_events(events):
    return [json.dumps(e, separators=(", ", ": ")) for e in events]
