/// A plain-text table with columns padded to their widest cell, two spaces apart.
///
/// Rows may have more cells than the header (the extra columns get an empty heading) or fewer
/// (the missing cells are empty): a table is output, never a reason to crash.
struct Table {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: [String]) { self.header = header }

    mutating func append(_ row: [String]) { rows.append(row) }

    /// The table's lines, trailing spaces trimmed.
    func render() -> String {
        var widths = header.map(\.count)
        for row in rows {
            if row.count > widths.count { widths += Array(repeating: 0, count: row.count - widths.count) }
            for (index, cell) in row.enumerated() {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                text +=
                    index == cells.count - 1
                    ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }
            while text.last == " " { text.removeLast() }
            return text
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
