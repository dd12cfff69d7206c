import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// The file a single-node broker of an earlier version kept its topics in.
    var legacyTopicsPath: String { config.logDirs[0] + "/" + TopicStore.legacyFileName }
    /// Where it goes once imported, so it is never imported twice (kept for the operator).
    var importedTopicsPath: String { legacyTopicsPath + ".imported" }

    /// The upgrade of a single-node data directory, on the admin worker during a reconcile pass:
    /// while `__tern_topics.json` exists, its topics are proposed to the metadata log (keeping
    /// their ids; ``ActiveController/importTopics(_:nodeId:completion:)``), and once the image
    /// holds every one of them with the same id the file is renamed to
    /// `__tern_topics.json.imported`. Returns true when nothing is left to import (the pass may
    /// reconcile), false while the import is under way.
    ///
    /// A crash between the commit and the rename imports nothing twice: the image is checked
    /// first, and topics it already holds are skipped. The import needs this node to be the
    /// active controller (always so for a single node, a quorum of one); a node of a larger
    /// quorum waits until it is.
    func importLegacyTopicsIfNeeded(_ image: MetadataImage) -> Bool {
        let legacy: [TopicInfo]
        do {
            guard let found = try TopicStore.read(legacyTopicsPath) else { return true }
            legacy = found
        } catch {
            logger.critical("cannot read the topics to import", metadata: ["error": "\(error)"])
            scheduleReconcile(after: .seconds(5))
            return false
        }
        let missing = legacy.filter { topic in
            image.topic(named: topic.name).map { $0.id != TopicStoreImport.topicId(topic.id) } ?? true
        }
        if missing.isEmpty {
            do {
                try AtomicFile.rename(legacyTopicsPath, to: importedTopicsPath)
            } catch {
                logger.error("cannot rename the imported topic file; retrying", metadata: ["error": "\(error)"])
                scheduleReconcile(after: .seconds(1))
                return false
            }
            logger.notice(
                "imported the single-node topic metadata into the metadata log",
                metadata: ["tern_topics": "\(legacy.count)", "tern_file": "\(importedTopicsPath)"])
            return true
        }
        let start = reconcileState.withLock { state -> Bool in
            guard !state.importInFlight else { return false }
            state.importInFlight = true
            return true
        }
        guard start else { return false }
        let controller = cluster.controller
        let nodeId = config.nodeId
        controller.queue.async { [self] in
            guard controller.isActive else {
                reconcileState.withLock { $0.importInFlight = false }
                logger.info(
                    "topics of __tern_topics.json wait for this node to be the active controller to be imported",
                    metadata: ["tern_topics": "\(missing.count)"])
                return scheduleReconcile(after: .milliseconds(200))
            }
            controller.importTopics(missing, nodeId: nodeId) { [self] result in
                reconcileState.withLock { $0.importInFlight = false }
                switch result {
                case .success(let offset):
                    logger.info(
                        "committed the import of __tern_topics.json",
                        metadata: ["tern_topics": "\(missing.count)", "tern_metadata_offset": "\(offset)"])
                    scheduleReconcile()
                case .failure(let error):
                    logger.error(
                        "cannot import __tern_topics.json; retrying in 1 s", metadata: ["error": "\(error)"])
                    scheduleReconcile(after: .seconds(1))
                }
            }
        }
        return false
    }
}
