import Logging
import TernNet
import TernWire

/// Turns frames into requests and hands each to its handler. Every failure to understand a frame
/// is answered (INVALID_REQUEST, UNSUPPORTED_VERSION) or, when not even the header can be read,
/// ends that connection with a log line naming the peer; the broker keeps serving everyone else.
struct RequestRouter: ServerConnectionHandler {
    let broker: Broker
    let logger: Logger
    /// The index in `listeners` of the listener this router serves (what Metadata advertises).
    var listener = 0

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
            // Rate-limited: a client can open malformed connections as fast as it likes.
            LogRateLimiter.peerWarnings.warning(
                logger, "closing connection: unreadable request header", metadata: ["error": "\(error)"])
            connection.noResponse(ticket)
            connection.close()
            return
        }
        let metrics = broker.requestMetrics(header.apiKey)
        metrics.received()
        let context = RequestContext(
            connection: connection, ticket: ticket, header: header, metrics: metrics, receivedAt: receivedAt,
            listener: listener)
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
        // A SASL listener serves nothing but ApiVersions and the exchange until authenticated
        // (other listeners skip the principal's lock).
        if broker.sasl.requiresAuthentication(listener: listener), connection.authenticatedPrincipal == nil,
            !broker.sasl.handleUnauthenticated(header, &reader, context)
        {
            return
        }
        if deferredWhileStarting(header.apiKey, bytes, context) { return }
        dispatch(header, &reader, context)
    }

    /// Routes a request whose header was read, answering a malformed body or a failed handler.
    func dispatch(_ header: RequestHeader, _ reader: inout ByteReader, _ context: RequestContext) {
        let connection = context.connection
        do {
            // The one test the hot path pays with the authorizer off.
            if broker.authorization.enabled {
                try routeAuthorized(header.apiKey, header.apiVersion, &reader, context)
            } else {
                try route(header.apiKey, header.apiVersion, &reader, context)
            }
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

    func route(_ key: ApiKey, _ version: UInt16, _ reader: inout ByteReader, _ context: RequestContext) throws {
        switch key {
        case .produce: broker.handleProduce(try decode(&reader, version: version), context)
        case .fetch: broker.handleFetch(try decode(&reader, version: version), context)
        case .listOffsets: broker.listOffsets(try decode(&reader, version: version)) { context.respond($0) }
        case .offsetForLeaderEpoch: context.respond(broker.handleOffsetForLeaderEpoch(try decode(&reader)))
        case .describeReplicaLag: context.respond(broker.handleDescribeReplicaLag(try decode(&reader)))
        case .metadata: broker.handleMetadata(try decode(&reader), context)
        case .apiVersions:
            let _: ApiVersionsRequest = try decode(&reader)
            context.respond(broker.handleApiVersions())
        case .createTopics: broker.handleCreateTopics(try decode(&reader), context)
        case .deleteTopics: broker.handleDeleteTopics(try decode(&reader), context)
        case .describeConfigs: context.respond(broker.handleDescribeConfigs(try decode(&reader)))
        case .alterConfigs: broker.handleAlterConfigs(try decode(&reader), context)
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
        case .describeLogDirs: broker.describeLogDirs(try decode(&reader)) { context.respond($0) }
        case .fetchKey: broker.handleFetchKey(try decode(&reader), context)
        case .describeCluster: context.respond(broker.handleDescribeCluster(try decode(&reader)))
        case .describeQuorum:
            let _: DescribeQuorumRequest = try decode(&reader)
            broker.handleDescribeQuorum(context)
        case .saslHandshake, .saslAuthenticate: broker.sasl.handleOutsideExchange(context.header, context)
        case .describeUserScramCredentials:
            context.respond(broker.handleDescribeUserScramCredentials(try decode(&reader)))
        case .alterUserScramCredentials: broker.handleAlterUserScramCredentials(try decode(&reader), context)
        case .createAcls: broker.handleCreateAcls(try decode(&reader), context)
        case .deleteAcls: broker.handleDeleteAcls(try decode(&reader), context)
        case .describeAcls: context.respond(broker.handleDescribeAcls(try decode(&reader)))
        case .initProducerId: broker.handleInitProducerId(try decode(&reader), context)
        case .electLeaders: broker.handleElectLeaders(try decode(&reader), context)
        case .alterPartitionReassignments: broker.handleAlterPartitionReassignments(try decode(&reader), context)
        case .listPartitionReassignments:
            context.respond(broker.handleListPartitionReassignments(try decode(&reader)))
        default:
            context.respond(error: ResponseStatus(.unsupportedVersion, "unknown API key \(key.rawValue)"))
        }
    }

    /// Decodes a request body of `version` and insists that nothing follows it.
    func decode<R: WireRequest>(_ reader: inout ByteReader, version: UInt16 = 0) throws -> R {
        let request = try R(from: &reader, version: version)
        guard reader.isAtEnd else {
            throw WireError(.malformed, "\(reader.remaining) unexpected bytes after the body")
        }
        return request
    }

    /// A closing connection's parked fetches complete now rather than when their waits end: the
    /// connection closes only once every request it sent has been answered.
    func connectionWillClose(_ connection: ServerConnection) {
        broker.purgatory.cancel(owner: connection.id)
        broker.replicaPurgatory.cancel(owner: connection.id)
    }

    func connectionDidClose(_ connection: ServerConnection) {
        broker.purgatory.cancel(owner: connection.id)
        broker.replicaPurgatory.cancel(owner: connection.id)
        broker.validationPool.discard(connection.id)
        broker.sasl.forget(connection.id)
    }
}
