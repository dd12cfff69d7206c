import Logging
import TernNet
import TernWire

/// Turns frames into requests and hands each to its handler. Every failure to understand a frame
/// is answered (INVALID_REQUEST, UNSUPPORTED_VERSION) or, when not even the header can be read,
/// ends that connection with a log line naming the peer; the broker keeps serving everyone else.
struct RequestRouter: ServerConnectionHandler {
    let broker: Broker
    let logger: Logger

    func connection(_ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket) {
        let receivedAt = RequestMetrics.now()
        let bytes = [UInt8](frame)
        var reader = ByteReader(bytes)
        let header: RequestHeader
        do {
            header = try RequestHeader(from: &reader)
        } catch {
            var logger = logger
            logger[metadataKey: "tern_peer"] = "\(connection.peer)"
            logger.warning("closing connection: unreadable request header", metadata: ["error": "\(error)"])
            connection.noResponse(ticket)
            connection.close()
            return
        }
        let metrics = broker.requestMetrics(header.apiKey)
        metrics.received()
        let context = RequestContext(
            connection: connection, ticket: ticket, header: header, metrics: metrics, receivedAt: receivedAt)
        guard
            let api = ApiKey.supported.first(where: { $0.key == header.apiKey }),
            header.apiVersion >= api.minVersion && header.apiVersion <= api.maxVersion
        else {
            context.respond(
                error: ResponseStatus(
                    .unsupportedVersion,
                    "\(header.apiKey) version \(header.apiVersion) is not supported; see ApiVersions"))
            return
        }
        do {
            try route(header.apiKey, header.apiVersion, &reader, context)
        } catch let error as WireError {
            logger.debug(
                "malformed request body",
                metadata: ["tern_peer": "\(connection.peer)", "api": "\(header.apiKey)", "error": "\(error)"])
            context.respond(error: ResponseStatus(.invalidRequest, "\(header.apiKey) request: \(error)"))
        } catch {
            logger.error("request failed", metadata: ["api": "\(header.apiKey)", "error": "\(error)"])
            context.respond(error: ResponseStatus(.unknownServerError, "\(error)"))
        }
    }

    private func route(_ key: ApiKey, _ version: UInt16, _ reader: inout ByteReader, _ context: RequestContext) throws {
        switch key {
        case .produce: broker.handleProduce(try decode(&reader), context)
        case .fetch: broker.handleFetch(try decode(&reader, version: version), context)
        case .listOffsets: context.respond(broker.handleListOffsets(try decode(&reader)))
        case .metadata: context.respond(broker.handleMetadata(try decode(&reader)))
        case .apiVersions:
            let _: ApiVersionsRequest = try decode(&reader)
            context.respond(broker.handleApiVersions())
        case .createTopics: context.respond(broker.handleCreateTopics(try decode(&reader)))
        case .deleteTopics: context.respond(broker.handleDeleteTopics(try decode(&reader)))
        case .describeConfigs: context.respond(broker.handleDescribeConfigs(try decode(&reader)))
        case .alterConfigs: context.respond(broker.handleAlterConfigs(try decode(&reader)))
        case .findCoordinator: broker.handleFindCoordinator(try decode(&reader), context)
        case .consumerGroupHeartbeat: broker.handleConsumerGroupHeartbeat(try decode(&reader), context)
        case .offsetCommit: broker.handleOffsetCommit(try decode(&reader), context)
        case .offsetFetch: context.respond(broker.handleOffsetFetch(try decode(&reader)))
        case .listGroups:
            let _: ListGroupsRequest = try decode(&reader)
            context.respond(broker.handleListGroups())
        case .describeGroups: context.respond(broker.handleDescribeGroups(try decode(&reader)))
        case .deleteGroups: broker.handleDeleteGroups(try decode(&reader), context)
        case .resetGroupOffsets: broker.handleResetGroupOffsets(try decode(&reader), context)
        case .describeLogDirs: context.respond(broker.handleDescribeLogDirs(try decode(&reader)))
        default:
            context.respond(error: ResponseStatus(.unsupportedVersion, "unknown API key \(key.rawValue)"))
        }
    }

    /// Decodes a request body of `version` and insists that nothing follows it.
    private func decode<R: WireRequest>(_ reader: inout ByteReader, version: UInt16 = 0) throws -> R {
        let request = try R(from: &reader, version: version)
        guard reader.isAtEnd else {
            throw WireError(.malformed, "\(reader.remaining) unexpected bytes after the body")
        }
        return request
    }

    func connectionDidClose(_ connection: ServerConnection) {}
}
