//! The `eks.*` fields: where an event came from, and which AWS principal made the call.
//!
//! Source fields read the `eksaudit/*` annotations the decoder adds (see
//! [`crate::event`]), so they answer the same in Falco, in `eksaudit replay` and after a
//! webhook hop. Identity fields read what the EKS authenticator records: `user.extra`
//! (`arn`, `canonicalArn`, `principalId`, `sessionName`, `accessKeyId`, one-element
//! arrays) and `user.uid` (`aws-iam-authenticator:<account>:<principal id>`, or
//! `heptio-authenticator-aws:` on older clusters).

use std::borrow::Cow;

use crate::event::{
    ACCOUNT_ANNOTATION, CLUSTER_ANNOTATION, EventView, KINESIS_SEQUENCE_ANNOTATION,
    KINESIS_SHARD_ANNOTATION, LOG_GROUP_ANNOTATION, LOG_STREAM_ANNOTATION, REGION_ANNOTATION, Top,
};
use crate::json::Json;

/// An `eks.*` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Eks {
    Cluster,
    Account,
    Region,
    LogGroup,
    LogStream,
    KinesisShard,
    KinesisSequence,
    Arn,
    CanonicalArn,
    PrincipalId,
    SessionName,
    AccessKeyId,
    Kind,
    IdentityAccount,
    SourceIp,
}

/// Extracts an `eks.*` field.
pub fn extract<'a>(ev: &EventView<'a>, field: Eks) -> Option<Cow<'a, [u8]>> {
    match field {
        Eks::Cluster => annotation(ev, CLUSTER_ANNOTATION),
        Eks::Account => annotation(ev, ACCOUNT_ANNOTATION),
        Eks::Region => annotation(ev, REGION_ANNOTATION),
        Eks::LogGroup => annotation(ev, LOG_GROUP_ANNOTATION),
        Eks::LogStream => annotation(ev, LOG_STREAM_ANNOTATION),
        Eks::KinesisShard => annotation(ev, KINESIS_SHARD_ANNOTATION),
        Eks::KinesisSequence => annotation(ev, KINESIS_SEQUENCE_ANNOTATION),
        Eks::Arn => extra(ev, "arn"),
        Eks::CanonicalArn => extra(ev, "canonicalArn"),
        Eks::SessionName => extra(ev, "sessionName"),
        Eks::AccessKeyId => extra(ev, "accessKeyId"),
        Eks::PrincipalId => extra(ev, "principalId").or_else(|| uid_part(ev, 2)),
        Eks::Kind => principal_arn(ev)
            .and_then(|arn| principal_kind(&arn))
            .map(Cow::Borrowed),
        Eks::SourceIp => ev.top(Top::SourceIps)?.at(0).map(Json::text),
        Eks::IdentityAccount => principal_arn(ev)
            .and_then(|arn| arn_account(&arn).map(|a| Cow::Owned(a.to_vec())))
            .or_else(|| uid_part(ev, 1)),
    }
}

fn annotation<'a>(ev: &EventView<'a>, key: &str) -> Option<Cow<'a, [u8]>> {
    ev.top(Top::Annotations)?.get(key).map(Json::text)
}

/// `user.extra.<key>[0]` (a bare string is accepted too).
fn extra<'a>(ev: &EventView<'a>, key: &str) -> Option<Cow<'a, [u8]>> {
    let value = ev.top(Top::User)?.get("extra")?.get(key)?;
    match value.kind() {
        crate::json::Kind::Array => value.at(0).map(Json::text),
        _ => Some(value.text()),
    }
}

/// Part `n` of `user.uid` when it comes from the AWS IAM authenticator.
fn uid_part<'a>(ev: &EventView<'a>, n: usize) -> Option<Cow<'a, [u8]>> {
    let uid = ev.top(Top::User)?.get("uid")?.text();
    let mut parts = uid.split(|&b| b == b':');
    let prefix = parts.next()?;
    if prefix != b"aws-iam-authenticator" && prefix != b"heptio-authenticator-aws" {
        return None;
    }
    let part = uid.split(|&b| b == b':').nth(n)?;
    (!part.is_empty()).then(|| Cow::Owned(part.to_vec()))
}

fn principal_arn<'a>(ev: &EventView<'a>) -> Option<Cow<'a, [u8]>> {
    extra(ev, "arn").or_else(|| extra(ev, "canonicalArn"))
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>` → account.
fn arn_account(arn: &[u8]) -> Option<&[u8]> {
    let mut parts = arn.splitn(6, |&b| b == b':');
    (parts.next()? == b"arn").then_some(())?;
    let account = parts.nth(3)?;
    (!account.is_empty()).then_some(account)
}

/// The principal kind from an IAM or STS ARN's resource part.
fn principal_kind(arn: &[u8]) -> Option<&'static [u8]> {
    let resource = arn.splitn(6, |&b| b == b':').nth(5)?;
    let kind: &'static [u8] = if resource == b"root" {
        b"root"
    } else if resource.starts_with(b"assumed-role/") {
        b"assumed-role"
    } else if resource.starts_with(b"role/") {
        b"role"
    } else if resource.starts_with(b"user/") {
        b"user"
    } else if resource.starts_with(b"federated-user/") {
        b"federated-user"
    } else {
        return None;
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSUMED: &str = r#"{"auditID":"x","user":{"username":"arn:aws:sts::111122223333:assumed-role/Admin/alice","uid":"aws-iam-authenticator:111122223333:AROAEXAMPLE","groups":["system:authenticated"],"extra":{"accessKeyId":["ASIAEXAMPLE"],"arn":["arn:aws:sts::111122223333:assumed-role/Admin/alice"],"canonicalArn":["arn:aws:iam::111122223333:role/Admin"],"principalId":["AROAEXAMPLE"],"sessionName":["alice"]}},"annotations":{"eksaudit/cluster":"prod","eksaudit/account":"999988887777","eksaudit/log-group":"/aws/eks/prod/cluster"}}"#;

    fn get(doc: &str, f: Eks) -> Option<String> {
        let view = EventView::new(doc.as_bytes(), 0);
        extract(&view, f).map(|v| String::from_utf8(v.into_owned()).unwrap())
    }

    #[test]
    fn source_fields_read_annotations() {
        assert_eq!(get(ASSUMED, Eks::Cluster).as_deref(), Some("prod"));
        assert_eq!(get(ASSUMED, Eks::Account).as_deref(), Some("999988887777"));
        assert_eq!(
            get(ASSUMED, Eks::LogGroup).as_deref(),
            Some("/aws/eks/prod/cluster")
        );
        assert_eq!(get(ASSUMED, Eks::Region), None);
    }

    #[test]
    fn identity_of_an_assumed_role() {
        assert_eq!(
            get(ASSUMED, Eks::Arn).as_deref(),
            Some("arn:aws:sts::111122223333:assumed-role/Admin/alice")
        );
        assert_eq!(
            get(ASSUMED, Eks::CanonicalArn).as_deref(),
            Some("arn:aws:iam::111122223333:role/Admin")
        );
        assert_eq!(
            get(ASSUMED, Eks::PrincipalId).as_deref(),
            Some("AROAEXAMPLE")
        );
        assert_eq!(get(ASSUMED, Eks::SessionName).as_deref(), Some("alice"));
        assert_eq!(
            get(ASSUMED, Eks::AccessKeyId).as_deref(),
            Some("ASIAEXAMPLE")
        );
        assert_eq!(get(ASSUMED, Eks::Kind).as_deref(), Some("assumed-role"));
        assert_eq!(
            get(ASSUMED, Eks::IdentityAccount).as_deref(),
            Some("111122223333")
        );
    }

    #[test]
    fn source_ip_is_the_first_of_source_ips() {
        let doc = r#"{"sourceIPs":["203.0.113.9","10.0.0.1"]}"#;
        assert_eq!(get(doc, Eks::SourceIp).as_deref(), Some("203.0.113.9"));
        assert_eq!(get(r#"{"sourceIPs":[]}"#, Eks::SourceIp), None);
    }

    #[test]
    fn kinds_and_uid_fallbacks() {
        let user = r#"{"user":{"uid":"heptio-authenticator-aws:444455556666:AIDAEXAMPLE","extra":{"arn":["arn:aws:iam::444455556666:user/bob"]}}}"#;
        assert_eq!(get(user, Eks::Kind).as_deref(), Some("user"));
        assert_eq!(get(user, Eks::PrincipalId).as_deref(), Some("AIDAEXAMPLE"));
        let uid_only = r#"{"user":{"uid":"aws-iam-authenticator:444455556666:AIDAEXAMPLE"}}"#;
        assert_eq!(
            get(uid_only, Eks::IdentityAccount).as_deref(),
            Some("444455556666")
        );
        assert_eq!(get(uid_only, Eks::Kind), None);
        let root = r#"{"user":{"extra":{"arn":["arn:aws:iam::444455556666:root"]}}}"#;
        assert_eq!(get(root, Eks::Kind).as_deref(), Some("root"));
        let k8s = r#"{"user":{"username":"system:node:x","uid":"abc"}}"#;
        assert_eq!(get(k8s, Eks::PrincipalId), None);
        assert_eq!(get(k8s, Eks::Arn), None);
    }
}
