import TernWire

extension WireSamples {
    /// Samples of CreateAcls, DescribeAcls and DeleteAcls; `str` substitutes every string
    /// (hostile UTF-8 tests).
    static func aclSamples(_ str: (String) -> String) -> [WireCase] {
        let bindings = [
            AclBinding(
                resourceType: .topic, resourceName: str("orders-"), patternType: .prefixed,
                principal: str("User:alice"), host: str("10.0.0.1"), operation: .write, permission: .deny),
            AclBinding(
                resourceType: .cluster, resourceName: str("kafka-cluster"), principal: str("User:*"),
                host: str("*"), operation: .describeConfigs),
        ]
        return [
            .request(CreateAclsRequest(creations: bindings)),
            .request(CreateAclsRequest(creations: []), "empty"),
            .response(
                CreateAclsResponse(results: [
                    AclResult(), AclResult(errorCode: .invalidRequest, errorMessage: str("bad principal")),
                ])),
            .request(DescribeAclsRequest()),
            .request(
                DescribeAclsRequest(
                    filter: AclBindingFilter(
                        resourceType: .group, resourceName: str("app"), patternType: .match,
                        principal: str("User:bob"), host: str("::1"), operation: .read, permission: .allow)),
                "full filter"),
            .response(DescribeAclsResponse(bindings: bindings)),
            .response(
                DescribeAclsResponse(
                    errorCode: .clusterAuthorizationFailed, errorMessage: str("no DESCRIBE on the cluster"),
                    bindings: []), "error"),
            .request(
                DeleteAclsRequest(filters: [
                    .all, AclBindingFilter(exactly: bindings[0]),
                    AclBindingFilter(resourceType: .topic, resourceName: str("t"), patternType: .literal),
                ])),
            .response(
                DeleteAclsResponse(results: [
                    .init(deleted: bindings), .init(deleted: []),
                    .init(errorCode: .clusterAuthorizationFailed, errorMessage: str("denied"), deleted: []),
                ])),
        ]
    }
}
