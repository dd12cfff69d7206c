import Dispatch
import TernWire

/// The requests a broker forwards to the active controller inside an ``EnvelopeRequest``
/// (Kafka's forwarding, KIP-590): the APIs only the controller can decide because they write
/// the metadata log.
///
/// Adding one is one row in ``table``: the request type and the ``ActiveController`` method that
/// decides it (on the controller's queue) and replies with the response and the offset of the
/// last metadata-log entry it committed (-1 for none). The broker's handler then calls
/// `Broker.forward(_:_:)` with the decoded request, and the request type conforms to
/// ``ForwardableRequest`` so a broker that cannot reach a controller can answer for it. See
/// docs/architecture.md, "Forwarding to the active controller".
enum ForwardedApis {
    /// One forwardable API: decodes the inner request at its version, runs it on the controller,
    /// encodes the inner response at the same version.
    struct Entry: Sendable {
        let serve:
            @Sendable (
                _ controller: ActiveController, _ envelope: EnvelopeRequest,
                _ reply: @escaping @Sendable (EnvelopeResponse) -> Void
            ) throws -> Void
    }

    /// Every forwardable API by key.
    static let table: [ApiKey: Entry] = [
        .createTopics: entry(CreateTopicsRequest.self) {
            $0.createTopics($1, internalTopics: $2.brokerInternal, reply: $3)
        },
        .deleteTopics: entry(DeleteTopicsRequest.self) { $0.deleteTopics($1, reply: $3) },
        .alterConfigs: entry(AlterConfigsRequest.self) { $0.alterConfigs($1, reply: $3) },
        .createAcls: entry(CreateAclsRequest.self) { $0.createAcls($1, reply: $3) },
        .deleteAcls: entry(DeleteAclsRequest.self) { $0.deleteAcls($1, reply: $3) },
        .alterUserScramCredentials: entry(AlterUserScramCredentialsRequest.self) {
            $0.alterScramCredentials($1, reply: $3)
        },
        .electLeaders: entry(ElectLeadersRequest.self) { $0.electLeaders($1, reply: $3) },
    ]

    /// An entry for request type `R`, decided by `decide(controller, request, envelope, reply)`.
    static func entry<R: WireRequest>(
        _: R.Type,
        _ decide:
            @escaping @Sendable (
                ActiveController, R, EnvelopeRequest, @escaping @Sendable (R.Response, Int64) -> Void
            ) -> Void
    ) -> Entry {
        Entry { controller, envelope, reply in
            var reader = ByteReader(envelope.requestData)
            let request = try R(from: &reader, version: envelope.requestApiVersion)
            guard reader.isAtEnd else {
                throw WireError(.malformed, "\(reader.remaining) unexpected bytes after the forwarded body")
            }
            decide(controller, request, envelope) { response, offset in
                var writer = ByteWriter(capacity: 64)
                response.encode(into: &writer, version: envelope.requestApiVersion)
                reply(EnvelopeResponse(metadataOffset: offset, responseData: writer.take()))
            }
        }
    }

    /// Serves an envelope on the controller's queue: NOT_CONTROLLER while this node is not the
    /// active controller (the forwarding broker retries the current one), UNSUPPORTED_VERSION for
    /// an API that is not forwardable or a version this build does not speak, INVALID_REQUEST
    /// for an inner body that does not decode.
    static func serve(
        _ envelope: EnvelopeRequest, on controller: ActiveController,
        reply: @escaping @Sendable (EnvelopeResponse) -> Void
    ) {
        dispatchPrecondition(condition: .onQueue(controller.queue))
        func fail(_ code: ErrorCode, _ message: String) {
            reply(EnvelopeResponse(errorCode: code, errorMessage: message, metadataOffset: -1, responseData: []))
        }
        guard let entry = table[envelope.requestApiKey],
            let api = ApiKey.supported.first(where: { $0.key == envelope.requestApiKey }),
            envelope.requestApiVersion >= api.minVersion && envelope.requestApiVersion <= api.maxVersion
        else {
            return fail(
                .unsupportedVersion,
                "\(envelope.requestApiKey) version \(envelope.requestApiVersion) cannot be forwarded to the controller")
        }
        guard controller.isActive else {
            return fail(.notController, "no metadata quorum: node \(controller.nodeId) is not the active controller")
        }
        do {
            try entry.serve(controller, envelope, reply)
        } catch {
            fail(.invalidRequest, "forwarded \(envelope.requestApiKey): \(error)")
        }
    }
}

/// A request a broker forwards to the controller: it can answer for itself when no controller
/// can be reached (every item failed with the same error).
protocol ForwardableRequest: WireRequest {
    /// The response that fails every item of this request with `code` and `message`.
    func failed(_ code: ErrorCode, _ message: String) -> Response
}

extension CreateTopicsRequest: ForwardableRequest {
    func failed(_ code: ErrorCode, _ message: String) -> CreateTopicsResponse {
        CreateTopicsResponse(topics: topics.map { TopicResult(name: $0.name, errorCode: code, errorMessage: message) })
    }
}

extension DeleteTopicsRequest: ForwardableRequest {
    func failed(_ code: ErrorCode, _ message: String) -> DeleteTopicsResponse {
        DeleteTopicsResponse(topics: names.map { TopicResult(name: $0, errorCode: code, errorMessage: message) })
    }
}

extension AlterConfigsRequest: ForwardableRequest {
    func failed(_ code: ErrorCode, _ message: String) -> AlterConfigsResponse {
        AlterConfigsResponse(
            resources: resources.map {
                .init(errorCode: code, errorMessage: message, type: $0.type, name: $0.name)
            })
    }
}

extension CreateAclsRequest: ForwardableRequest {
    func failed(_ code: ErrorCode, _ message: String) -> CreateAclsResponse {
        CreateAclsResponse(results: creations.map { _ in AclResult(errorCode: code, errorMessage: message) })
    }
}

extension DeleteAclsRequest: ForwardableRequest {
    func failed(_ code: ErrorCode, _ message: String) -> DeleteAclsResponse {
        DeleteAclsResponse(results: filters.map { _ in .init(errorCode: code, errorMessage: message, deleted: []) })
    }
}

extension AlterUserScramCredentialsRequest: ForwardableRequest {
    func failed(_ code: ErrorCode, _ message: String) -> AlterUserScramCredentialsResponse {
        AlterUserScramCredentialsResponse(
            results: ActiveController.usersNamed(in: self).map {
                .init(user: $0, errorCode: code, errorMessage: message)
            })
    }
}

extension ElectLeadersRequest: ForwardableRequest {
    func failed(_ code: ErrorCode, _ message: String) -> ElectLeadersResponse {
        ElectLeadersResponse(errorCode: code, errorMessage: message, topics: [])
    }
}
