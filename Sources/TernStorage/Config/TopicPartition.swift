/// A topic name and a partition number; also names the partition's directory, `topic-partition`.
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    /// The topic's name.
    public var topic: String
    /// The partition number.
    public var partition: Int32

    /// Creates a topic-partition.
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// `topic-partition`, e.g. `orders-3`: also the name of the partition's directory.
    public var description: String { "\(topic)-\(partition)" }

    /// Parses a partition directory name (`orders-3`, `my-topic-12`); nil for anything else.
    init?(directoryName name: String) {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let digits = name[name.index(after: dash)...]
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }),
            let partition = Int32(digits)
        else { return nil }
        let topic = String(name[..<dash])
        guard !topic.isEmpty, !topic.contains("/"), !topic.contains(" ") else { return nil }
        self.init(topic, partition)
    }
}
