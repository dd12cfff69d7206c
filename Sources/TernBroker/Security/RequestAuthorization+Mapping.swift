import TernWire

/// Which operations on which resources each API needs, and what a denial answers — Kafka's
/// `KafkaApis` choices, so clients see the errors they know. Pure: the router calls
/// ``required(for:)`` with the decoded request and asks an ``Authorizer`` about each check.
public enum RequestAuthorization {
    /// The checks and listing filter `request` needs.
    ///
    /// Per-topic checks name each topic once, in request order, even when the request repeats it.
    /// An incremental Fetch names only the partitions it changes: the router must also check the
    /// topics already in the fetch session (their READ can have been revoked since).
    public static func required(for request: AuthorizableRequest) -> RequiredAuthorization {
        switch request {
        case .produce(let produce):
            // Kafka: WRITE per topic; a denied topic's partitions answer TOPIC_AUTHORIZATION_FAILED.
            return topics(produce.topics.map(\.name), .write)
        case .fetch(let fetch):
            if fetch.replicaId >= 0 {
                // A follower's fetch: CLUSTER_ACTION; Kafka answers every partition with
                // TOPIC_AUTHORIZATION_FAILED when it is denied.
                return RequiredAuthorization(checks: [
                    AuthorizationCheck(.clusterAction, .cluster, .topicAuthorizationFailed, .request)
                ])
            }
            return topics(fetch.topics.map(\.name), .read)
        case .listOffsets(let list):
            return topics(list.topics.map(\.name), .describe)
        case .offsetForLeaderEpoch(let epochs):
            // Kafka: a follower's request needs CLUSTER_ACTION, a consumer's DESCRIBE per topic.
            if epochs.replicaId >= 0 {
                return RequiredAuthorization(checks: [
                    AuthorizationCheck(.clusterAction, .cluster, .topicAuthorizationFailed, .request)
                ])
            }
            return topics(epochs.topics.map(\.name), .describe)
        case .metadata(let metadata):
            guard let names = metadata.topics else {
                // All topics: list only those the principal may describe.
                return RequiredAuthorization(listing: ListingFilter(.describe, .topic))
            }
            // Named topics: DESCRIBE each; auto-creation additionally needs CREATE on the cluster
            // or the topic, which the router checks only for topics that do not exist
            // (``autoCreateCheck(topic:)``).
            return topics(names, .describe)
        case .apiVersions, .sasl:
            return .none
        case .initProducerId:
            // Kafka 2.8+ (KIP-679): IDEMPOTENT_WRITE on the cluster, or WRITE on any topic. Tern
            // hands an id to any principal: an id alone writes nothing, and every Produce that
            // uses it is still checked for WRITE on its topics.
            return .none
        case .createTopics(let create):
            // Kafka: CREATE on the cluster, or else on each topic. The topic comes first: it is the
            // resource a denial fails and logs.
            return RequiredAuthorization(
                checks: unique(create.topics.map(\.name)).map {
                    AuthorizationCheck(
                        anyOf: [.init(.create, .topic($0)), .init(.create, .cluster)], .topicAuthorizationFailed,
                        .resource)
                })
        case .deleteTopics(let delete):
            return topics(delete.names, .delete)
        case .describeConfigs(let describe):
            return RequiredAuthorization(
                checks: describe.resources.map { configCheck($0.type, $0.name, .describeConfigs) })
        case .alterConfigs(let alter):
            return RequiredAuthorization(checks: alter.resources.map { configCheck($0.type, $0.name, .alterConfigs) })
        case .findCoordinator(let find):
            // Kafka: DESCRIBE on the group (key type 0); transaction coordinators are not served.
            return RequiredAuthorization(checks: [
                AuthorizationCheck(.describe, .group(find.key), .groupAuthorizationFailed, .request)
            ])
        case .consumerGroupHeartbeat(let heartbeat):
            // Kafka (KIP-848): READ on the group; DESCRIBE on every subscribed topic, any denied
            // one failing the heartbeat with TOPIC_AUTHORIZATION_FAILED.
            var checks = [AuthorizationCheck(.read, .group(heartbeat.groupId), .groupAuthorizationFailed, .request)]
            for topic in unique(heartbeat.subscribedTopics) {
                checks.append(AuthorizationCheck(.describe, .topic(topic), .topicAuthorizationFailed, .request))
            }
            return RequiredAuthorization(checks: checks)
        case .offsetCommit(let commit):
            // Kafka: READ on the group fails the whole request; READ per topic fails its partitions.
            var checks = [AuthorizationCheck(.read, .group(commit.groupId), .groupAuthorizationFailed, .request)]
            checks += topics(commit.topics.map(\.name), .read).checks
            return RequiredAuthorization(checks: checks)
        case .offsetFetch(let fetch):
            // Kafka: DESCRIBE on the group; DESCRIBE per topic (READ implies it), a denied topic's
            // partitions answering TOPIC_AUTHORIZATION_FAILED; all topics (empty list): the
            // response lists only describable ones.
            let group = AuthorizationCheck(.describe, .group(fetch.groupId), .groupAuthorizationFailed, .request)
            guard !fetch.topics.isEmpty else {
                return RequiredAuthorization(checks: [group], listing: ListingFilter(.describe, .topic))
            }
            return RequiredAuthorization(checks: [group] + topics(fetch.topics.map(\.name), .describe).checks)
        case .listGroups:
            // Kafka: DESCRIBE on the cluster lists every group; otherwise only describable groups.
            return RequiredAuthorization(
                listing: ListingFilter(.describe, .group, unlessAllowed: .init(.describe, .cluster)))
        case .describeGroups(let describe):
            return RequiredAuthorization(
                checks: unique(describe.groupIds).map {
                    AuthorizationCheck(.describe, .group($0), .groupAuthorizationFailed, .resource)
                })
        case .deleteGroups(let delete):
            return RequiredAuthorization(
                checks: unique(delete.groupIds).map {
                    AuthorizationCheck(.delete, .group($0), .groupAuthorizationFailed, .resource)
                })
        case .resetGroupOffsets(let reset):
            // Tern's AlterConsumerGroupOffsets: Kafka's rules for that API (READ on the group and
            // on the topic).
            return RequiredAuthorization(checks: [
                AuthorizationCheck(.read, .group(reset.groupId), .groupAuthorizationFailed, .request),
                AuthorizationCheck(.read, .topic(reset.topic), .topicAuthorizationFailed, .request),
            ])
        case .describeLogDirs:
            return cluster(.describe)
        case .fetchKey(let fetch):
            return RequiredAuthorization(checks: [
                AuthorizationCheck(.read, .topic(fetch.topic), .topicAuthorizationFailed, .request)
            ])
        case .describeReplicaLag(let lag):
            // DESCRIBE on every topic named; a denial fails the whole request (as FetchKey).
            return RequiredAuthorization(
                checks: unique(lag.topics.map(\.name)).map {
                    AuthorizationCheck(.describe, .topic($0), .topicAuthorizationFailed, .request)
                })
        case .describeCluster, .describeQuorum, .describeAcls, .describeUserScramCredentials,
            .listPartitionReassignments:
            return cluster(.describe)
        case .createAcls, .deleteAcls, .alterUserScramCredentials, .electLeaders, .alterPartitionReassignments:
            // Kafka: ALTER on the cluster for ACL, SCRAM credential, leader election and reassignment changes.
            return cluster(.alter)
        case .interBroker:
            // Kafka: CLUSTER_ACTION for what brokers and controllers send each other, Envelope
            // (KIP-590 forwarding) included. Tern serves these only on the controller listener,
            // which clients cannot reach: the forwarded request was checked, with the client's
            // principal, by the broker that received it.
            return cluster(.clusterAction)
        }
    }

    /// Metadata's auto-creation of a topic that does not exist: CREATE on the cluster or the
    /// topic (Kafka); denied, the topic's entry answers TOPIC_AUTHORIZATION_FAILED.
    public static func autoCreateCheck(topic: String) -> AuthorizationCheck {
        AuthorizationCheck(
            anyOf: [.init(.create, .topic(topic)), .init(.create, .cluster)], .topicAuthorizationFailed, .resource)
    }

    private static func topics(_ names: [String], _ operation: AclOperation) -> RequiredAuthorization {
        RequiredAuthorization(
            checks: unique(names).map {
                AuthorizationCheck(operation, .topic($0), .topicAuthorizationFailed, .resource)
            })
    }

    private static func cluster(_ operation: AclOperation) -> RequiredAuthorization {
        RequiredAuthorization(checks: [
            AuthorizationCheck(operation, .cluster, .clusterAuthorizationFailed, .request)
        ])
    }

    /// Topic configs need the operation on the topic; broker configs (a node id or the
    /// cluster-wide default) on the cluster. Each resource entry fails on its own.
    private static func configCheck(
        _ type: DescribeConfigsRequest.ResourceType, _ name: String, _ operation: AclOperation
    ) -> AuthorizationCheck {
        type == .topic
            ? AuthorizationCheck(operation, .topic(name), .topicAuthorizationFailed, .resource)
            : AuthorizationCheck(operation, .cluster, .clusterAuthorizationFailed, .resource)
    }

    private static func unique(_ names: [String]) -> [String] {
        var seen: Set<String> = []
        return names.filter { seen.insert($0).inserted }
    }
}

extension Authorizer {
    /// The decision for a check: allowed when any of its requirements is; otherwise the first
    /// requirement's denial.
    public func evaluate(_ check: AuthorizationCheck, principal: String, host: String) -> AuthorizationDecision {
        var first: AuthorizationDecision?
        for requirement in check.anyOf {
            let decision = authorize(
                principal: principal, host: host, operation: requirement.operation, resource: requirement.resource)
            if decision.isAllowed { return decision }
            if first == nil { first = decision }
        }
        return first ?? .denied(.noAllowAcl)
    }

    /// Whether a resource of a listing response stays in it.
    public func keeps(_ name: String, in filter: ListingFilter, principal: String, host: String) -> Bool {
        if let bypass = filter.unlessAllowed,
            isAllowed(principal: principal, host: host, operation: bypass.operation, resource: bypass.resource)
        {
            return true
        }
        return isAllowed(
            principal: principal, host: host, operation: filter.operation,
            resource: AuthorizedResource(filter.resourceType, name))
    }
}
