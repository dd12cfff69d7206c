import TernWire

extension WireSamples {
    /// Samples of the cluster APIs (BrokerRegistration, BrokerHeartbeat, Envelope, DescribeCluster); `str`
    /// substitutes every string (hostile UTF-8 tests).
    static func clusterSamples(_ str: (String) -> String) -> [WireCase] {
        let listeners: [BrokerRegistrationRecord.Listener] = [
            .init(name: str("PLAINTEXT"), host: str("10.0.0.1"), port: 9092),
            .init(name: str("CONTROLLER"), host: str("::1"), port: UInt16.max),
        ]
        return [
            .request(
                BrokerRegistrationRequest(
                    nodeId: 2, clusterId: str("3Hh2Tq6sSU2b1DwnEJmQ9w"),
                    incarnationId: MetadataUUID(high: 0x0123_4567_89AB_CDEF, low: .max), listeners: listeners,
                    roles: [.broker, .controller])),
            .request(
                BrokerRegistrationRequest(
                    nodeId: Int32.max, clusterId: str(""), incarnationId: .zero, listeners: [], roles: []), "empty"),
            .response(BrokerRegistrationResponse(brokerEpoch: 41)),
            .response(
                BrokerRegistrationResponse(
                    errorCode: .inconsistentClusterId, errorMessage: str("other cluster"), brokerEpoch: -1), "error"),

            .request(BrokerHeartbeatRequest(nodeId: 2, brokerEpoch: 41, metadataOffset: 1_000_000)),
            .request(
                BrokerHeartbeatRequest(
                    nodeId: 0, brokerEpoch: Int64.max, metadataOffset: -1, wantFence: true, wantShutDown: true),
                "flags"),
            .response(BrokerHeartbeatResponse(isCaughtUp: true, isFenced: false, shouldShutDown: false)),
            .response(
                BrokerHeartbeatResponse(
                    errorCode: .staleBrokerEpoch, errorMessage: str("stale"), isCaughtUp: false, isFenced: true,
                    shouldShutDown: true), "error"),

            .request(
                EnvelopeRequest(
                    requestApiKey: .createTopics, requestApiVersion: 0, clientId: str("tern-cli"),
                    principal: str("User:CN=app,O=Example"), requestData: [0, 0, 0, 1, 0, 1, 0x61, 0, 0, 0, 1])),
            .request(
                EnvelopeRequest(
                    requestApiKey: .alterConfigs, requestApiVersion: UInt16.max, clientId: str(""), principal: str(""),
                    brokerInternal: true, requestData: []), "empty"),
            .response(EnvelopeResponse(metadataOffset: 1_234, responseData: [0, 0, 0, 0])),
            .response(
                EnvelopeResponse(
                    errorCode: .notController, errorMessage: str("no metadata quorum: node 2 is not the active controller"),
                    metadataOffset: -1, responseData: []), "error"),

            .request(DescribeClusterRequest()),
            .request(DescribeClusterRequest(includeFencedBrokers: false), "unfenced"),
            .response(
                DescribeClusterResponse(
                    clusterId: str("3Hh2Tq6sSU2b1DwnEJmQ9w"), controllerId: 1,
                    nodes: [
                        .init(nodeId: 1, roles: [.broker, .controller], fenced: false, listeners: listeners),
                        .init(nodeId: 4, roles: [.broker], fenced: true, listeners: []),
                        .init(nodeId: 9, roles: [.controller], fenced: false, listeners: [listeners[1]]),
                    ])),
            .response(
                DescribeClusterResponse(
                    errorCode: .requestTimedOut, errorMessage: str("no quorum"), clusterId: nil, controllerId: -1,
                    nodes: []), "error"),

            .request(DescribeQuorumRequest()),
            .response(
                DescribeQuorumResponse(
                    nodeId: 2, role: str("leader"), leaderId: 2, epoch: 7, highWatermark: 120, logEndOffset: 121,
                    voters: [
                        .init(nodeId: 1, logEndOffset: 120, lastContactAgeMs: 35),
                        .init(nodeId: 2, logEndOffset: 121, lastContactAgeMs: 0),
                        .init(nodeId: 3, logEndOffset: -1, lastContactAgeMs: -1),
                    ],
                    observers: [.init(nodeId: 4, logEndOffset: 118, lastContactAgeMs: 12)])),
            .response(
                DescribeQuorumResponse(
                    nodeId: 3, role: str("unattached"), leaderId: -1, epoch: 0, highWatermark: 0, logEndOffset: 0,
                    voters: []), "no leader"),
        ]
    }
}
