import Foundation
import TernTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The test harness tells a port taken before `ternd` could bind it from other start-up failures:
/// that is the failure ``BrokerProcess`` and ``ClusterProcesses`` answer by starting again on
/// fresh ports (another process on the machine can take a port between picking and binding).
final class BrokerProcessPortTests: XCTestCase {
    func testATakenPortIsReportedAsAddressInUse() throws {
        let directory = TemporaryDirectory("tern-port-race")
        defer { directory.remove() }
        // Hold a loopback port, as a concurrent process would: bound, not listening (a listener
        // nobody accepts on would fill its backlog, and the harness's readiness probe's connect
        // would then hang).
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        XCTAssertTrue(bound)
        let taken = Int(UInt16(bigEndian: address.sin_port))

        // The caller fixed the port, so there is nothing to retry on: the failure comes back.
        XCTAssertThrowsError(try BrokerProcess(dataDirectory: directory.path + "/data", port: taken)) { error in
            let failure = error as? BrokerProcessError
            XCTAssertEqual(failure?.isAddressInUse, true, "\(error)")
        }
        // A broker on ports it picks itself starts.
        let broker = try BrokerProcess(dataDirectory: directory.path + "/other")
        XCTAssertNotEqual(broker.port, taken)
        broker.stop()
    }
}
