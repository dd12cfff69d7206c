/// Chooses replicas for new partitions across live brokers, spreading both replicas and
/// preferred leaders evenly.
///
/// The shape is Kafka's rack-unaware assignment (`AdminUtils.assignReplicasToBrokers`): brokers in
/// a ring, a random start, followers at a shift from the leader that advances every `n`
/// partitions so replica pairs vary. Unlike Kafka it also counts what the cluster already holds:
/// each partition's leader is the live broker with the fewest preferred leaderships (ties go
/// round the ring from the start), and followers prefer brokers with the fewest replicas. So
/// topics created while every broker is alive leave preferred leaders within one of each other
/// across brokers, not only within one topic.
///
/// The force-unwraps below index `leaderCounts`/`replicaCounts` only with members of `brokers`,
/// whose keys `init` creates, and take `min` of a ring of `n >= 1` indexes: none can be nil.
struct ReplicaPlacement {
    /// Live brokers, ascending.
    let brokers: [Int32]
    private var leaderCounts: [Int32: Int]
    private var replicaCounts: [Int32: Int]

    /// - Parameters:
    ///   - brokers: the unfenced brokers that may receive replicas, ascending, non-empty.
    ///   - image: the cluster as it is, whose existing assignments count as load.
    init(brokers: [Int32], image: MetadataImage) {
        self.brokers = brokers
        leaderCounts = Dictionary(uniqueKeysWithValues: brokers.map { ($0, 0) })
        replicaCounts = leaderCounts
        for topic in image.sortedTopics {
            for partition in topic.partitions.values {
                if leaderCounts[partition.preferredLeader] != nil { leaderCounts[partition.preferredLeader]! += 1 }
                for replica in partition.replicas where replicaCounts[replica] != nil { replicaCounts[replica]! += 1 }
            }
        }
    }

    /// Assigns `partitions` partitions of `replicationFactor` replicas each (at most
    /// `brokers.count`, checked by the caller), the preferred leader first.
    mutating func assign(
        partitions: Int, replicationFactor: Int, using generator: inout some RandomNumberGenerator
    ) -> [[Int32]] {
        let n = brokers.count
        precondition(replicationFactor >= 1 && replicationFactor <= n, "replication factor outside 1...\(n)")
        let start = Int.random(in: 0..<n, using: &generator)
        var shift = n > 1 ? Int.random(in: 0..<(n - 1), using: &generator) : 0
        var result: [[Int32]] = []
        result.reserveCapacity(partitions)
        for p in 0..<partitions {
            if p > 0 && p % n == 0 && n > 1 { shift = (shift + 1) % (n - 1) }
            // Ring order from this partition's starting point; `min` keeps the first of equals.
            let ring = (0..<n).map { (start + p + $0) % n }
            let leaderIndex = ring.min { leaderCounts[brokers[$0]]! < leaderCounts[brokers[$1]]! }!
            var followers: [Int] = []
            if n > 1 {
                followers = (0..<(n - 1)).map { (leaderIndex + 1 + (shift + $0) % (n - 1)) % n }
                // Stable: among equally loaded brokers Kafka's shifted order decides.
                followers = followers.enumerated().sorted {
                    let (a, b) = (replicaCounts[brokers[$0.element]]!, replicaCounts[brokers[$1.element]]!)
                    return a != b ? a < b : $0.offset < $1.offset
                }.map(\.element)
            }
            let replicas = [brokers[leaderIndex]] + followers.prefix(replicationFactor - 1).map { brokers[$0] }
            leaderCounts[replicas[0]]! += 1
            for replica in replicas { replicaCounts[replica]! += 1 }
            result.append(replicas)
        }
        return result
    }

    /// `replicas` followed by live brokers not among them until there are `factor` (fewer when
    /// not enough brokers are live): those holding the fewest replicas first, ties broken round
    /// the ring from `rotation`, so successive partitions spread over different brokers. The
    /// additions count as load for later calls.
    mutating func extend(_ replicas: [Int32], to factor: Int, rotation: Int) -> [Int32] {
        let n = brokers.count
        guard n > 0 else { return replicas }
        let ring = (0..<n).map { brokers[(rotation + $0) % n] }
        let candidates = ring.enumerated().filter { !replicas.contains($0.element) }.sorted {
            let (a, b) = (replicaCounts[$0.element]!, replicaCounts[$1.element]!)
            return a != b ? a < b : $0.offset < $1.offset
        }.map(\.element)
        let added = Array(candidates.prefix(max(0, factor - replicas.count)))
        for broker in added { replicaCounts[broker]! += 1 }
        return replicas + added
    }
}
