/// One group's decided change: what the group becomes and the `__consumer_offsets` records that
/// make it durable. ``GroupCoordinatorState`` decides it without touching itself; the coordinator
/// appends ``records`` as one batch and only once they are durable calls
/// ``GroupCoordinatorState/apply(_:)``.
///
/// Every record of a change is about one group, so all of them live in that group's partition
/// (``partition``) and go out as a single record batch. A batch is written with one `pwrite` and
/// recovery keeps a batch whole or drops it whole (CRC), so a change is in the log entirely or
/// not at all: that is what makes each group's change atomic on disk.
struct GroupChange: Sendable {
    let groupId: String
    /// The `__consumer_offsets` partition that holds the group.
    let partition: Int32
    /// The group after the change; nil removes it.
    var group: ConsumerGroup?
    /// What to append before applying; empty when only unpersisted fields (heartbeat times,
    /// owned sets) changed, and the change is applied at once.
    var records: [GroupRecord]
}
