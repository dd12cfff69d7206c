import TernWire

extension WireSamples {
    /// Samples of AlterPartitionReassignments and ListPartitionReassignments; `str` substitutes
    /// every string (hostile UTF-8 tests).
    static func reassignmentSamples(_ str: (String) -> String) -> [WireCase] {
        [
            .request(
                AlterPartitionReassignmentsRequest(
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [.init(partition: 0, replicas: [2, 3, 4]), .init(partition: 3, replicas: nil)]),
                        .init(name: str("empty"), partitions: []),
                    ], timeoutMs: 5000)),
            .request(AlterPartitionReassignmentsRequest(topics: []), "empty"),
            .response(
                AlterPartitionReassignmentsResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(partition: 0),
                            .init(
                                partition: 3, errorCode: .noReassignmentInProgress, errorMessage: str("not moving")),
                        ])
                ])),
            .request(ListPartitionReassignmentsRequest()),
            .request(
                ListPartitionReassignmentsRequest(topics: [.init(name: str("orders"), partitions: [0, 7])]), "named"),
            .response(
                ListPartitionReassignmentsResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(partition: 0, replicas: [2, 3, 1], addingReplicas: [2, 3], removingReplicas: [1])
                        ])
                ])),
            .response(ListPartitionReassignmentsResponse(topics: []), "none"),
        ]
    }
}
