import TernClient

/// The admin side of a chaos run: wait for the cluster, create the topic, watch the leaders.
struct ChaosAdmin {
    let topic: String
    private let client: TernClient

    init(bootstrap: [String], topic: String) async throws {
        self.topic = topic
        client = try await ChaosWorkload.client(bootstrap)
    }

    func close() async { await client.close() }

    /// Waits until `count` brokers are registered and unfenced and a controller is known.
    func waitForBrokers(_ count: Int, seconds: Int) async throws {
        try await until(seconds, "\(count) unfenced brokers") {
            guard let membership = try? await client.admin.describeClusterMembership() else { return false }
            return membership.controllerId != nil && membership.nodes.count == count
                && membership.nodes.allSatisfy { !$0.fenced }
        }
    }

    func createTopic(partitions: Int32, seconds: Int) async throws {
        try await until(seconds, "topic \(topic) created") {
            do {
                try await client.admin.createTopic(
                    name: topic, partitions: Int(partitions), replicationFactor: 3,
                    configs: ["min.insync.replicas": "2"])
                return true
            } catch let error as TernError where error.brokerError == .topicAlreadyExists {
                return true
            } catch {
                return false
            }
        }
    }

    /// Waits until every partition has a leader.
    func waitForLeaders(partitions: Int32, seconds: Int) async throws {
        try await until(seconds, "a leader for every partition of \(topic)") {
            await leaders()?.count == Int(partitions)
        }
    }

    /// Partition → leader now, or nil when the metadata cannot be read.
    func leaders() async -> [Int32: Int32]? {
        guard let description = try? await client.admin.describeTopic(name: topic) else { return nil }
        return description.partitions.reduce(into: [:]) { map, partition in
            if let leader = partition.leader { map[partition.partition] = leader }
        }
    }

    private func until(_ seconds: Int, _ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw ChaosRunError("no \(what) within \(seconds) s")
    }
}
