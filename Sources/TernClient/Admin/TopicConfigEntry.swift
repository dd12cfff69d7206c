/// One configuration key of a topic as the broker resolved it.
///
/// (Named apart from TernWire's `ConfigEntry`, the plain key/value pair of a CreateTopics request,
/// so that code importing both modules stays unambiguous.)
public struct TopicConfigEntry: Hashable, Sendable {
    /// The key (`retention.ms`, `cleanup.policy`, …).
    public var name: String
    /// The effective value; nil when the broker withholds it (sensitive keys).
    public var value: String?
    /// Where the value comes from: `topic` (set on the topic), `broker` (the broker's
    /// configuration) or `default`.
    public var source: String
    /// True when the key cannot be changed on a live topic.
    public var isReadOnly: Bool
    /// True for secrets, whose value is not shown.
    public var isSensitive: Bool

    /// Creates an entry.
    public init(name: String, value: String?, source: String, isReadOnly: Bool = false, isSensitive: Bool = false) {
        self.name = name
        self.value = value
        self.source = source
        self.isReadOnly = isReadOnly
        self.isSensitive = isSensitive
    }
}
