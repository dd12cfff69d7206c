import TernWire

extension WireSamples {
    /// Samples of DescribeReplicaLag; `str` substitutes every string (hostile UTF-8 tests).
    static func replicaLagSamples(_ str: (String) -> String) -> [WireCase] {
        [
            .request(
                DescribeReplicaLagRequest(topics: [
                    .init(name: str("orders"), partitions: [0, 2]), .init(name: str("empty"), partitions: []),
                ])),
            .request(DescribeReplicaLagRequest(topics: []), "none"),
            .response(
                DescribeReplicaLagResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(
                                partition: 0, leaderEpoch: 3, highWatermark: 90, logEndOffset: 120,
                                replicas: [
                                    .init(
                                        replicaId: 1, fetchOffset: 120, durableOffset: 118, lagRecords: 0,
                                        caughtUpAgoMs: 0),
                                    .init(
                                        replicaId: 2, fetchOffset: 90, durableOffset: 90, lagRecords: 30,
                                        caughtUpAgoMs: 4200, lastFetchAgoMs: 4100),
                                    .init(replicaId: 3),
                                ]),
                            .init(
                                partition: 2, errorCode: .notLeaderOrFollower,
                                errorMessage: str("broker 1 does not lead orders-2")),
                        ])
                ])),
            .response(DescribeReplicaLagResponse(topics: []), "none"),
        ]
    }
}
