import TernWire

/// What a broker must do to its partition logs so they match the metadata image: the pure
/// decision of ``Broker`` reconciliation (DESIGN.md section 6), computed from the topics it has
/// materialized (``TopicStore`` at `__tern_local_topics.json`) and the committed image.
///
/// A broker holds a log of every partition of the image that has it among its replicas, under
/// the topic's configs. A topic is matched by name *and* id: a topic deleted and created again
/// under the same name while this broker was away is a different topic (its old logs go).
enum TopicReconcile {
    /// One step, applied in the order ``plan(local:image:nodeId:)`` returns them (deletions
    /// first, so a re-created name's old logs are gone before its new ones are made).
    enum Action: Hashable, Sendable {
        /// Forget the topic, then remove all its local logs.
        case delete(TopicInfo)
        /// Create the logs of `topic.localPartitions`, then record the topic.
        case create(TopicInfo)
        /// Same topic: record `topic` (new configs, partition count or replica set), apply its
        /// configs to the open logs, create the logs of `addPartitions` and remove those of
        /// `removePartitions`.
        case update(TopicInfo, addPartitions: [Int32], removePartitions: [Int32], configsChanged: Bool)

        /// The topic the action is about.
        var topicName: String {
            switch self {
            case .delete(let topic), .create(let topic), .update(let topic, _, _, _): topic.name
            }
        }
    }

    /// The actions that make `local` match `image` for broker `nodeId`, deletions first, then
    /// creations and updates, each sorted by topic name (deterministic).
    static func plan(local: [TopicInfo], image: MetadataImage, nodeId: Int32) -> [Action] {
        var deletions: [Action] = []
        var changes: [Action] = []
        let localByName = Dictionary(local.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        for topic in local.sorted(by: { $0.name < $1.name }) {
            guard let imageTopic = image.topic(named: topic.name), sameTopic(topic, imageTopic),
                !materialized(imageTopic, nodeId: nodeId).localPartitions.isEmpty
            else {
                deletions.append(.delete(topic))
                continue
            }
        }
        for imageTopic in image.sortedTopics {
            let wanted = materialized(imageTopic, nodeId: nodeId)
            guard !wanted.localPartitions.isEmpty else { continue }
            guard let have = localByName[imageTopic.name], sameTopic(have, imageTopic) else {
                changes.append(.create(wanted))
                continue
            }
            let haveSet = Set(have.localPartitions)
            let wantSet = Set(wanted.localPartitions)
            let add = wantSet.subtracting(haveSet).sorted()
            let remove = haveSet.subtracting(wantSet).sorted()
            let configsChanged = have.configs != wanted.configs
            if !add.isEmpty || !remove.isEmpty || configsChanged || have.partitionCount != wanted.partitionCount
                || have.replicationFactor != wanted.replicationFactor || have.replicaPartitions == nil
                || have.id != wanted.id
            {
                changes.append(
                    .update(wanted, addPartitions: add, removePartitions: remove, configsChanged: configsChanged))
            }
        }
        return deletions + changes
    }

    /// True when a local topic is the image's topic: same name and the same 128-bit id (a
    /// single-node store's id reads as ``TopicStoreImport/topicId(_:)`` imported it, so an
    /// imported topic keeps its logs even when its stored id lacked leading zeros).
    static func sameTopic(_ local: TopicInfo, _ topic: MetadataImage.Topic) -> Bool {
        local.name == topic.name && TopicStoreImport.topicId(local.id) == topic.id
    }

    /// The local record of an image topic on broker `nodeId`: its id in hex, its partition count,
    /// the largest replica count, its configs, and the partitions `nodeId` replicates.
    static func materialized(_ topic: MetadataImage.Topic, nodeId: Int32) -> TopicInfo {
        let partitions = topic.sortedPartitions
        let count = (partitions.last?.partition).map { $0 + 1 } ?? 0
        return TopicInfo(
            name: topic.name, id: "\(topic.id)", partitionCount: count,
            replicationFactor: Int16(clamping: partitions.map(\.replicas.count).max() ?? 0), configs: topic.configs,
            replicaPartitions: partitions.filter { $0.replicas.contains(nodeId) }.map(\.partition))
    }
}
