import TernRaft

extension PartitionReplica {
    /// One replica's lag behind this leader (DescribeReplicaLag, `tern topic describe`, the
    /// `tern_replica_max_lag` gauge). -1 stands for unknown.
    public struct ReplicaLag: Hashable, Sendable {
        public var replicaId: Int32
        /// Where its last fetch started (its log end); the leader's own log end for the leader.
        public var fetchOffset: Int64
        /// What it last reported fsynced; the leader's own fsynced end for the leader.
        public var durableOffset: Int64
        /// Records behind the leader's log end.
        public var lagRecords: Int64
        /// Milliseconds since it last had everything the leader had; 0 when it has it now.
        public var caughtUpAgoMs: Int64
        /// Milliseconds since its last fetch (-1 for the leader).
        public var lastFetchAgoMs: Int64
    }

    /// Every replica of the partition in replica-list order, as this leader sees it; empty when
    /// this replica does not lead. A follower that has not fetched in this leader epoch has an
    /// unknown offset and lag, and is counted as caught up when the epoch began (as Kafka's
    /// leader does, and as the ISR shrink measures it).
    public func followerLag(now: Tick) -> [ReplicaLag] {
        guard role == .leader, let p = partition else { return [] }
        return p.replicas.map { r in
            if r == config.replicaId {
                return ReplicaLag(
                    replicaId: r, fetchOffset: logEnd, durableOffset: durableEnd, lagRecords: 0, caughtUpAgoMs: 0,
                    lastFetchAgoMs: -1)
            }
            guard let f = followers[r] else {
                return ReplicaLag(
                    replicaId: r, fetchOffset: -1, durableOffset: -1, lagRecords: -1, caughtUpAgoMs: -1,
                    lastFetchAgoMs: -1)
            }
            let known = f.fetchOffset >= 0
            let caughtUp = known && f.fetchOffset >= logEnd
            return ReplicaLag(
                replicaId: r, fetchOffset: f.fetchOffset, durableOffset: f.durable,
                lagRecords: known ? max(logEnd - f.fetchOffset, 0) : -1,
                caughtUpAgoMs: caughtUp ? 0 : max(now - f.lastCaughtUpMs, 0),
                lastFetchAgoMs: f.lastFetchMs >= 0 ? max(now - f.lastFetchMs, 0) : -1)
        }
    }

    /// The most any follower is behind this leader: in records behind its log end, and in
    /// milliseconds since it last had everything (Kafka's time-based lag, the clock
    /// `replica.lag.time.max.ms` drops a follower from the ISR on; a follower that has not
    /// fetched in this epoch counts from the epoch's start). Zeros when this replica does not
    /// lead or every follower is caught up.
    public func maxFollowerLag(now: Tick) -> (records: Int64, ms: Int64) {
        var most: (records: Int64, ms: Int64) = (0, 0)
        for lag in followerLag(now: now) {
            most.records = max(most.records, lag.lagRecords)
            most.ms = max(most.ms, lag.caughtUpAgoMs)
        }
        return most
    }
}
