import TernNet
import TernWire

/// The router with `authorizer.enable = true`: each request is decoded, checked against the
/// committed image's ACLs (``RequestAuthorization/required(for:)``), and then served as usual.
///
/// As Kafka: a check of the whole request (the group of an OffsetCommit, the cluster for
/// DescribeCluster) answers its error as the response's status; a check of one resource (a topic
/// of a Produce, a group of a DeleteGroups) takes that resource out of the request, the handler
/// serves the rest, and the response gets the denied entries back, with
/// TOPIC/GROUP/CLUSTER_AUTHORIZATION_FAILED, in request order (``RequestContext/amend``).
/// Listings (Metadata for all topics, ListGroups, OffsetFetch of all topics) keep only what the
/// principal may describe. Fetch checks its topics itself, after resolving its fetch session.
extension RequestRouter {
    func routeAuthorized(_ key: ApiKey, _ version: UInt16, _ reader: inout ByteReader, _ base: RequestContext) throws {
        guard
            let access = broker.authorization.access(
                principal: base.principal, host: base.connection.host, api: key,
                isCaughtUp: { [broker] in !broker.cluster.isFenced })
        else { return try route(key, version, &reader, base) }
        var context = base
        context.access = access
        switch key {
        case .produce:
            let request: ProduceRequest = try decode(&reader, version: version)
            guard let denied = authorize(.produce(request), context) else { return }
            guard !denied.isEmpty else { return broker.handleProduce(request, context) }
            var served = request
            served.topics.removeAll { denied[.topic($0.name)] != nil }
            let original = request.topics
            context.amend = .of(ProduceResponse.self) { response in
                var out = response
                out.topics = Self.interleave(original, response.topics, denied: { denied[.topic($0.name)] }) {
                    topic, code in
                    ProduceResponse.Topic(
                        name: topic.name,
                        partitions: topic.partitions.map {
                            .init(
                                partition: $0.partition, errorCode: code,
                                errorMessage: access.refusal(.write, .topic(topic.name)))
                        })
                }
                return out
            }
            broker.handleProduce(served, context)
        case .fetch:
            let request: FetchRequest = try decode(&reader, version: version)
            // A follower's fetch needs CLUSTER_ACTION; a consumer's topics are checked by the
            // handler once its session is resolved (an incremental fetch does not name them all).
            if request.replicaId >= 0, authorize(.fetch(request), context) == nil { return }
            broker.handleFetch(request, context)
        case .listOffsets:
            let request: ListOffsetsRequest = try decode(&reader, version: version)
            guard let denied = authorize(.listOffsets(request), context) else { return }
            var served = request
            served.topics.removeAll { denied[.topic($0.name)] != nil }
            broker.listOffsets(served) { [context] answer in
                var response = answer
                response.topics = Self.interleave(request.topics, response.topics, denied: { denied[.topic($0.name)] })
                {
                    topic, code in
                    ListOffsetsResponse.Topic(
                        name: topic.name,
                        partitions: topic.partitions.map { .init(partition: $0.partition, errorCode: code) })
                }
                context.respond(response)
            }
        case .metadata:
            try routeMetadata(try decode(&reader), context, access)
        case .apiVersions:
            let _: ApiVersionsRequest = try decode(&reader)
            context.respond(broker.handleApiVersions())
        case .createTopics:
            let request: CreateTopicsRequest = try decode(&reader)
            guard let denied = authorize(.createTopics(request), context) else { return }
            var served = request
            served.topics.removeAll { denied[.topic($0.name)] != nil }
            context.amend = Self.topicResults(
                request.topics.map(\.name), denied, access, .create, CreateTopicsResponse.self, \.topics)
            broker.handleCreateTopics(served, context)
        case .deleteTopics:
            let request: DeleteTopicsRequest = try decode(&reader)
            guard let denied = authorize(.deleteTopics(request), context) else { return }
            var served = request
            served.names.removeAll { denied[.topic($0)] != nil }
            context.amend = Self.topicResults(
                request.names, denied, access, .delete, DeleteTopicsResponse.self, \.topics)
            broker.handleDeleteTopics(served, context)
        case .describeConfigs:
            let request: DescribeConfigsRequest = try decode(&reader)
            guard let denied = authorize(.describeConfigs(request), context) else { return }
            let resource = { (r: DescribeConfigsRequest.Resource) in Self.configResource(r.type, r.name) }
            var served = request
            served.resources.removeAll { denied[resource($0)] != nil }
            var response = broker.handleDescribeConfigs(served)
            response.resources = Self.interleave(
                request.resources, response.resources, denied: { denied[resource($0)] }
            ) {
                r, code in
                .init(
                    errorCode: code, errorMessage: access.refusal(.describeConfigs, resource(r)), type: r.type,
                    name: r.name,
                    entries: [])
            }
            context.respond(response)
        case .alterConfigs:
            let request: AlterConfigsRequest = try decode(&reader)
            guard let denied = authorize(.alterConfigs(request), context) else { return }
            let resource: @Sendable (AlterConfigsRequest.Resource) -> AuthorizedResource = {
                Self.configResource($0.type, $0.name)
            }
            var served = request
            served.resources.removeAll { denied[resource($0)] != nil }
            if served.resources.count != request.resources.count {
                let original = request.resources
                context.amend = .of(AlterConfigsResponse.self) { response in
                    var out = response
                    out.resources = Self.interleave(original, response.resources, denied: { denied[resource($0)] }) {
                        r, code in
                        .init(
                            errorCode: code, errorMessage: access.refusal(.alterConfigs, resource(r)), type: r.type,
                            name: r.name)
                    }
                    return out
                }
            }
            broker.handleAlterConfigs(served, context)
        case .findCoordinator:
            let request: FindCoordinatorRequest = try decode(&reader)
            guard authorize(.findCoordinator(request), context) != nil else { return }
            broker.handleFindCoordinator(request, context)
        case .consumerGroupHeartbeat:
            let request: ConsumerGroupHeartbeatRequest = try decode(&reader)
            guard authorize(.consumerGroupHeartbeat(request), context) != nil else { return }
            broker.handleConsumerGroupHeartbeat(request, context)
        case .offsetCommit:
            let request: OffsetCommitRequest = try decode(&reader)
            guard let denied = authorize(.offsetCommit(request), context) else { return }
            guard !denied.isEmpty else { return broker.handleOffsetCommit(request, context) }
            var served = request
            served.topics.removeAll { denied[.topic($0.name)] != nil }
            let original = request.topics
            context.amend = .of(OffsetCommitResponse.self) { response in
                var out = response
                out.topics = Self.interleave(original, response.topics, denied: { denied[.topic($0.name)] }) {
                    t, code in
                    OffsetCommitResponse.Topic(
                        name: t.name, partitions: t.partitions.map { .init(partition: $0.partition, errorCode: code) })
                }
                return out
            }
            broker.handleOffsetCommit(served, context)
        case .offsetFetch:
            let request: OffsetFetchRequest = try decode(&reader)
            let required = RequestAuthorization.required(for: .offsetFetch(request))
            guard let denied = authorize(required, context) else { return }
            var served = request
            served.topics.removeAll { denied[.topic($0.name)] != nil }
            var response = broker.handleOffsetFetch(served)
            if let listing = required.listing {
                response.topics.removeAll { !access.keeps($0.name, listing) }
            } else {
                response.topics = Self.interleave(request.topics, response.topics, denied: { denied[.topic($0.name)] })
                {
                    t, code in
                    OffsetFetchResponse.Topic(
                        name: t.name, partitions: t.partitions.map { .init(partition: $0, offset: -1, errorCode: code) }
                    )
                }
            }
            context.respond(response)
        case .listGroups:
            let _: ListGroupsRequest = try decode(&reader)
            var response = broker.handleListGroups()
            if let listing = RequestAuthorization.required(for: .listGroups).listing {
                response.groups.removeAll { !access.keeps($0.groupId, listing) }
            }
            context.respond(response)
        case .describeGroups:
            let request: DescribeGroupsRequest = try decode(&reader)
            guard let denied = authorize(.describeGroups(request), context) else { return }
            var served = request
            served.groupIds.removeAll { denied[.group($0)] != nil }
            var response = broker.handleDescribeGroups(served)
            response.groups = Self.interleave(request.groupIds, response.groups, denied: { denied[.group($0)] }) {
                id, code in
                .init(
                    errorCode: code, errorMessage: access.refusal(.describe, .group(id)), groupId: id, state: "",
                    groupEpoch: -1, members: [], offsets: [])
            }
            context.respond(response)
        case .deleteGroups:
            let request: DeleteGroupsRequest = try decode(&reader)
            guard let denied = authorize(.deleteGroups(request), context) else { return }
            guard !denied.isEmpty else { return broker.handleDeleteGroups(request, context) }
            var served = request
            served.groupIds.removeAll { denied[.group($0)] != nil }
            let original = request.groupIds
            context.amend = .of(DeleteGroupsResponse.self) { response in
                var out = response
                out.results = Self.interleave(original, response.results, denied: { denied[.group($0)] }) { id, code in
                    .init(groupId: id, errorCode: code, errorMessage: access.refusal(.delete, .group(id)))
                }
                return out
            }
            broker.handleDeleteGroups(served, context)
        default:
            // Checked as a whole (ResetGroupOffsets, FetchKey, DescribeLogDirs, DescribeReplicaLag, DescribeCluster,
            // DescribeQuorum, the ACL and SCRAM-credential APIs), then routed as without the
            // authorizer; the receiving broker checks before it forwards anything to the
            // controller, which trusts the forwarding broker's check.
            let start = reader
            guard let request = try Self.decodeWhole(key, &reader) else {
                return try route(key, version, &reader, context)
            }
            guard authorize(request, context) != nil else { return }
            reader = start
            try route(key, version, &reader, context)
        }
    }

    /// Metadata: named topics need DESCRIBE (and, to be auto-created, CREATE on the cluster or
    /// the topic); all topics lists only the describable ones.
    private func routeMetadata(_ request: MetadataRequest, _ base: RequestContext, _ access: RequestAccess) throws {
        var context = base
        let required = RequestAuthorization.required(for: .metadata(request))
        guard var denied = authorize(required, context) else { return }
        guard let names = request.topics else {
            if let listing = required.listing {
                context.amend = .of(MetadataResponse.self) { response in
                    var out = response
                    out.topics.removeAll { !access.keeps($0.name, listing) }
                    return out
                }
            }
            return broker.handleMetadata(request, context)
        }
        if request.allowAutoTopicCreation, broker.config.autoCreateTopics {
            for name in names where denied[.topic(name)] == nil && broker.topics.topic(name) == nil {
                let check = RequestAuthorization.autoCreateCheck(topic: name)
                if !access.passes(check) { denied[.topic(name)] = check.errorCode }
            }
        }
        guard !denied.isEmpty else { return broker.handleMetadata(request, context) }
        var served = request
        let denials = denied
        served.topics = names.filter { denials[.topic($0)] == nil }
        context.amend = .of(MetadataResponse.self) { response in
            var out = response
            out.topics = Self.interleave(names, response.topics, denied: { denials[.topic($0)] }) { name, code in
                .init(errorCode: code, name: name, partitions: [])
            }
            return out
        }
        broker.handleMetadata(served, context)
    }

    // MARK: Checks

    /// Runs the checks `request` needs. A denied whole-request check is answered here (the
    /// response's status) and returns nil; otherwise returns the denied resources with their
    /// error codes (empty when everything is allowed).
    private func authorize(_ request: AuthorizableRequest, _ context: RequestContext) -> [AuthorizedResource:
        ErrorCode]?
    {
        authorize(RequestAuthorization.required(for: request), context)
    }

    private func authorize(
        _ required: RequiredAuthorization, _ context: RequestContext
    ) -> [AuthorizedResource: ErrorCode]? {
        guard let access = context.access else { return [:] }
        var denied: [AuthorizedResource: ErrorCode] = [:]
        for check in required.checks where denied[check.resource] == nil && !access.passes(check) {
            guard check.scope == .resource else {
                context.respond(error: ResponseStatus(check.errorCode, access.refusal(check.operation, check.resource)))
                return nil
            }
            denied[check.resource] = check.errorCode
        }
        return denied
    }

    /// The request of an API that is only checked as a whole; nil for an API with no checks.
    private static func decodeWhole(_ key: ApiKey, _ reader: inout ByteReader) throws -> AuthorizableRequest? {
        switch key {
        case .resetGroupOffsets: .resetGroupOffsets(try ResetGroupOffsetsRequest(from: &reader))
        case .fetchKey: .fetchKey(try FetchKeyRequest(from: &reader))
        case .describeLogDirs: .describeLogDirs(try DescribeLogDirsRequest(from: &reader))
        case .describeCluster: .describeCluster
        case .describeQuorum: .describeQuorum
        case .createAcls: .createAcls(try CreateAclsRequest(from: &reader))
        case .deleteAcls: .deleteAcls(try DeleteAclsRequest(from: &reader))
        case .describeAcls: .describeAcls(try DescribeAclsRequest(from: &reader))
        // DESCRIBE / ALTER on the cluster: without these a principal with no ACL at all could
        // list users or set any user's password (including a super user's).
        case .describeUserScramCredentials: .describeUserScramCredentials
        case .alterUserScramCredentials: .alterUserScramCredentials
        case .electLeaders: .electLeaders
        case .alterPartitionReassignments: .alterPartitionReassignments
        case .listPartitionReassignments: .listPartitionReassignments
        case .describeReplicaLag: .describeReplicaLag(try DescribeReplicaLagRequest(from: &reader))
        default: nil
        }
    }

    /// A config resource as ACLs name it: a topic, or the cluster for broker configs.
    private static func configResource(_ type: DescribeConfigsRequest.ResourceType, _ name: String)
        -> AuthorizedResource
    {
        type == .topic ? .topic(name) : .cluster
    }

    // MARK: Putting denied entries back

    /// The response entries in request order: for each entry of the request, its denial when it
    /// was denied, else the handler's next result. Handlers answer one entry per request entry,
    /// in order; anything left over (never expected) is kept at the end rather than lost.
    static func interleave<Requested, Answer>(
        _ requested: [Requested], _ served: [Answer], denied: (Requested) -> ErrorCode?,
        _ make: (Requested, ErrorCode) -> Answer
    ) -> [Answer] {
        var out: [Answer] = []
        out.reserveCapacity(requested.count)
        var next = served.startIndex
        for entry in requested {
            if let code = denied(entry) {
                out.append(make(entry, code))
            } else if next < served.endIndex {
                out.append(served[next])
                next += 1
            }
        }
        out += served[next...]
        return out
    }

    /// CreateTopics and DeleteTopics: a TopicResult per denied topic.
    private static func topicResults<R: WireResponse>(
        _ names: [String], _ denied: [AuthorizedResource: ErrorCode], _ access: RequestAccess,
        _ operation: AclOperation,
        _: R.Type, _ results: any WritableKeyPath<R, [TopicResult]> & Sendable
    ) -> ResponseAmendment? {
        guard !denied.isEmpty else { return nil }
        return .of(R.self) { response in
            var out = response
            out[keyPath: results] = interleave(names, response[keyPath: results], denied: { denied[.topic($0)] }) {
                name, code in
                TopicResult(name: name, errorCode: code, errorMessage: access.refusal(operation, .topic(name)))
            }
            return out
        }
    }
}

extension RequestAccess {
    /// The message a denial answers with: who may not do what to which resource.
    func refusal(_ operation: AclOperation, _ resource: AuthorizedResource) -> String {
        "\(principal) is not authorized to \(operation) \(resource)"
    }
}
