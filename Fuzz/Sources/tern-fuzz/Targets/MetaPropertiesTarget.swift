import TernBroker

/// A log directory's `meta.properties` as the node reads it at start (a file anyone with access
/// to the data directory can edit): UTF-8 text, then `MetaProperties(parsing:path:)`.
enum MetaPropertiesTarget {
    static let target = FuzzTarget(
        name: "meta-properties", maxLength: 1024, summary: "MetaProperties(parsing:) (a log directory's identity)",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let text = String(validating: input, as: UTF8.self) else { return }
        guard let properties = try? MetaProperties(parsing: text, path: "meta.properties") else { return }
        // What the node writes back (after adding a cluster id) must read as the same identity.
        let rendered = properties.rendered()
        let again: MetaProperties
        do {
            again = try MetaProperties(parsing: rendered, path: "meta.properties")
        } catch {
            fuzzFail("its own rendering does not parse: \(error)")
        }
        fuzzCheck(again == properties, "render∘parse changed the properties")
        fuzzCheck(again.rendered() == rendered, "rendering is not stable")
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        [
            ("no-cluster", MetaProperties(nodeId: 1).rendered()),
            (
                "kafka-written",
                "#\n#Fri Nov 27 10:00:00 UTC 2026\ncluster.id=3Hh2Tq6sSU2b1DwnEJmQ9w\r\n"
                    + "directory.id=J8aAPcfLQt2bqs1JT_rMgQ\nnode.id=3\nversion=1\n"
            ),
            (
                "tern-written",
                MetaProperties(nodeId: 2, clusterId: "tern-cluster_1", otherProperties: ["directory.id": "a=b"])
                    .rendered()
            ),
        ].map { (name: $0.0, bytes: Array($0.1.utf8)) }
    }
}
