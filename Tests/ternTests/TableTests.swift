// `Table.render`: padding, and rows that do not match the header.
import XCTest

@testable import tern

final class TableTests: XCTestCase {
    func testColumnsArePaddedToTheWidestCell() {
        var table = Table(["NAME", "N"])
        table.append(["orders", "12"])
        table.append(["a", "3"])
        XCTAssertEqual(table.render(), "NAME    N\norders  12\na       3\n")
    }

    func testARowLongerThanTheHeaderGetsColumnsWithAnEmptyHeading() {
        var table = Table(["A", "B"])
        table.append(["1", "2", "three", "4"])
        table.append(["x"])
        XCTAssertEqual(table.render(), "A  B\n1  2  three  4\nx\n")
    }

    func testEmptyCellsLeaveNoTrailingSpaces() {
        var table = Table(["A", "B", "C"])
        table.append(["1", "", ""])
        table.append([])
        XCTAssertEqual(table.render(), "A  B  C\n1\n\n")
    }
}
