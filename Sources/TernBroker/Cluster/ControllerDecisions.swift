import TernWire

/// The active controller's decisions as pure functions of a ``MetadataImage``: each returns the
/// records to propose to the metadata log (empty when nothing needs to change) or a
/// ``ControllerError``. No clock, random source or I/O inside: time, offsets and a random
/// generator are parameters, so tests and the simulator replay them exactly.
///
/// Every decision builds its records by applying them to a working copy of the image as it goes
/// (``Proposal``), so later records are computed against the effect of earlier ones and a
/// decision can never return a batch its own image would refuse.
public enum ControllerDecisions {
    /// The outcome of a broker registration.
    public struct Registration: Hashable, Sendable {
        /// The epoch the broker must send with its heartbeats from now on.
        public var brokerEpoch: Int64
        public var records: [MetadataRecord]
    }

    /// Records accumulated against a working image.
    struct Proposal {
        var image: MetadataImage
        var records: [MetadataRecord] = []

        init(_ image: MetadataImage) { self.image = image }

        /// Appends `record`; a record the working image refuses is a controller bug, reported as
        /// an unknown server error rather than proposed.
        mutating func add(_ record: MetadataRecord) throws(ControllerError) {
            do {
                try image.apply(record)
            } catch {
                throw ControllerError(.unknownServerError, "controller built a contradictory record: \(error)")
            }
            records.append(record)
        }
    }

    /// Registers a broker process.
    ///
    /// A new node, or a known node with a new incarnation id (the process restarted), gets a fresh
    /// broker epoch above every epoch seen so far and starts fenced until it has caught up with the
    /// metadata log. A new incarnation also fences the old process: leadership moves off it and it
    /// leaves the ISRs it can leave. The same incarnation registering again is a retry and gets its
    /// current epoch with no records.
    ///
    /// - Parameter brokerEpoch: the epoch of a new registration: the metadata-log offset its
    ///   record will get (Kafka's rule; the registration is the first record returned), which
    ///   must be above every registered epoch. Nil: one above the highest epoch so far.
    public static func registerBroker(
        _ image: MetadataImage, nodeId: Int32, incarnationId: MetadataUUID,
        listeners: [BrokerRegistrationRecord.Listener], roles: BrokerRegistrationRecord.Roles,
        brokerEpoch: Int64? = nil
    ) throws(ControllerError) -> Registration {
        guard nodeId >= 0 else { throw ControllerError(.invalidRequest, "broker node id \(nodeId) is negative") }
        if let existing = image.broker(nodeId), existing.incarnationId == incarnationId {
            return Registration(brokerEpoch: existing.brokerEpoch, records: [])
        }
        let epoch = brokerEpoch ?? image.highestBrokerEpoch + 1
        if let newest = image.brokers.values.map(\.brokerEpoch).max(), epoch <= newest {
            throw ControllerError(
                .unknownServerError,
                "broker \(nodeId): registration epoch \(epoch) is not above the newest registered epoch \(newest)")
        }
        var proposal = Proposal(image)
        try proposal.add(
            .registerBroker(
                .init(
                    nodeId: nodeId, incarnationId: incarnationId, brokerEpoch: epoch, listeners: listeners,
                    roles: roles, fenced: true)))
        if image.broker(nodeId) != nil { try moveLeadershipAway(from: [nodeId], in: &proposal) }
        return Registration(brokerEpoch: epoch, records: proposal.records)
    }

    /// Fences every unfenced broker whose last heartbeat is older than `sessionTimeoutMs`
    /// (`broker.session.timeout.ms`) at `nowMs`, in node-id order.
    ///
    /// A broker with no entry in `lastHeartbeatMs` is left alone: the caller seeds the table when a
    /// broker registers and, on becoming the active controller, with the current time for every
    /// broker (as Kafka does), so a controller failover does not fence the whole cluster.
    public static func fenceExpiredBrokers(
        _ image: MetadataImage, lastHeartbeatMs: [Int32: Int64], nowMs: Int64, sessionTimeoutMs: Int64
    ) throws(ControllerError) -> [MetadataRecord] {
        var proposal = Proposal(image)
        for broker in image.sortedBrokers where !broker.fenced {
            guard let last = lastHeartbeatMs[broker.nodeId], nowMs - last > sessionTimeoutMs else { continue }
            try fence(broker.nodeId, in: &proposal)
        }
        return proposal.records
    }

    /// Fences one broker now (for example when its process is known to be gone).
    public static func fenceBroker(_ image: MetadataImage, nodeId: Int32) throws(ControllerError) -> [MetadataRecord] {
        guard let broker = image.broker(nodeId) else {
            throw ControllerError(.brokerIdNotRegistered, "broker \(nodeId) is not registered")
        }
        guard !broker.fenced else { return [] }
        var proposal = Proposal(image)
        try fence(nodeId, in: &proposal)
        return proposal.records
    }

    /// Unfences a fenced broker once its heartbeat shows it has applied the metadata log up to
    /// `logEndOffset`; then gives it leadership of leaderless partitions whose ISR holds it.
    /// Returns no records while it is still behind or when it is already unfenced.
    public static func unfenceBroker(
        _ image: MetadataImage, nodeId: Int32, brokerEpoch: Int64, metadataOffset: Int64, logEndOffset: Int64
    ) throws(ControllerError) -> [MetadataRecord] {
        let broker = try registered(image, nodeId, brokerEpoch)
        guard broker.fenced, metadataOffset >= logEndOffset else { return [] }
        var proposal = Proposal(image)
        try proposal.add(.brokerFencing(.init(nodeId: nodeId, brokerEpoch: brokerEpoch, fenced: false)))
        try electLeaderless(in: &proposal)
        return proposal.records
    }

    /// A broker asked to stop cleanly: moves leadership of its partitions to other in-sync
    /// replicas and takes it out of ISRs (unless it is the last member) before it goes, so
    /// producers see a planned hand-over rather than a session timeout. Where it is the only
    /// in-sync replica it keeps leading: the partition goes offline when the broker is fenced, not
    /// before.
    ///
    /// The broker itself stays unfenced; once this proposes nothing more, ``BrokerRegistry``
    /// fences it (so no later election picks it) and tells it to shut down.
    public static func controlledShutdown(
        _ image: MetadataImage, nodeId: Int32, brokerEpoch: Int64
    ) throws(ControllerError) -> [MetadataRecord] {
        _ = try registered(image, nodeId, brokerEpoch)
        var proposal = Proposal(image)
        try moveLeadershipAway(from: [nodeId], keepingSoleLeader: true, in: &proposal)
        return proposal.records
    }

    static func registered(
        _ image: MetadataImage, _ nodeId: Int32, _ brokerEpoch: Int64
    ) throws(ControllerError) -> MetadataImage.Broker {
        guard let broker = image.broker(nodeId) else {
            throw ControllerError(.brokerIdNotRegistered, "broker \(nodeId) is not registered")
        }
        guard broker.brokerEpoch == brokerEpoch else {
            throw ControllerError(
                .staleBrokerEpoch,
                "broker \(nodeId): stale broker epoch \(brokerEpoch), current is \(broker.brokerEpoch)"
            )
        }
        return broker
    }

    static func fence(_ nodeId: Int32, in proposal: inout Proposal) throws(ControllerError) {
        guard let broker = proposal.image.broker(nodeId) else { return }
        try proposal.add(.brokerFencing(.init(nodeId: nodeId, brokerEpoch: broker.brokerEpoch, fenced: true)))
        try moveLeadershipAway(from: [nodeId], in: &proposal)
    }
}
