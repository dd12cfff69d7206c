import Foundation
import TernTestSupport
import XCTest

/// `ternd` refuses an inconsistent cluster configuration at start-up like any bad configuration:
/// exit 78 and one line naming the key and the reason, before touching the data directory.
final class ClusterConfigDaemonTests: XCTestCase {
    func testBadClusterSettingsExitWithConfigError() throws {
        let directory = TemporaryDirectory("tern-cluster-config")
        defer { directory.remove() }
        let base = [
            "--set", "log.dirs=\(directory.path)/data", "--set",
            "listeners=PLAINTEXT://127.0.0.1:\(freeLoopbackPort())",
            "--set", "admin.listeners=",
        ]
        let cases: [([String], String)] = [
            (["--set", "controller.quorum.voters=1@127.0.0.1:9093,1@127.0.0.1:9094"], "node id 1 appears twice"),
            (
                ["--set", "node.id=4", "--set", "controller.quorum.voters=1@127.0.0.1:9093"],
                "node.id 4 is not among the voters"
            ),
            (
                ["--set", "node.id=1", "--set", "controller.quorum.voters=1@127.0.0.1:9093"],
                "no listener named CONTROLLER"
            ),
            (["--set", "process.roles=broker"], "process.roles = broker needs the voters"),
            // An observer is not a voter (Kafka refuses it the same way).
            (
                [
                    "--set", "process.roles=broker", "--set", "node.id=1", "--set",
                    "controller.quorum.voters=1@127.0.0.1:9093",
                ],
                "node.id 1 is a voter, but process.roles = broker does not vote"
            ),
            (
                [
                    "--set", "process.roles=controller", "--set", "node.id=4", "--set",
                    "controller.quorum.voters=1@127.0.0.1:9093", "--set", "listeners=CONTROLLER://127.0.0.1:9095",
                ],
                "node.id 4 is not among the voters"
            ),
            (
                [
                    "--set", "process.roles=controller", "--set", "node.id=1", "--set",
                    "controller.quorum.voters=1@127.0.0.1:9093", "--set",
                    "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
                ],
                "process.roles = controller serves no clients"
            ),
        ]
        for (arguments, reason) in cases {
            let result = try runCommand(Binaries.path("ternd"), base + arguments, timeout: 60)
            XCTAssertEqual(result.status, 78, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("configuration error"), result.stderr)
            XCTAssertTrue(result.stderr.contains(reason), "\(arguments): \(result.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path + "/data"), "refused before any write")
    }
}
