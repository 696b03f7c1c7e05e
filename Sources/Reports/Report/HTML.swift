// Small HTML helpers for reports and status pages: escaping and tables.

public enum HTML {
    public static func escape(_ s: String) -> String { SVGDocument.escape(s) }

    /// A table; cells are escaped text. `numeric` right-aligns columns by index.
    public static func table(headers: [String], rows: [[String]], numeric: Set<Int> = [], id: String? = nil) -> String {
        var out = "<table\(id.map { " id=\"\(escape($0))\"" } ?? "")>\n<thead><tr>"
        out += headers.map { "<th>\(escape($0))</th>" }.joined()
        out += "</tr></thead>\n<tbody>\n"
        for row in rows {
            out +=
                "<tr>"
                + row.enumerated().map { i, cell in
                    numeric.contains(i) ? "<td class=\"num\">\(escape(cell))</td>" : "<td>\(escape(cell))</td>"
                }.joined() + "</tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    /// Key/value pairs as a two-column table.
    public static func keyValues(_ pairs: [(String, String)]) -> String {
        "<table class=\"kv\">\n" + pairs.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined(separator: "\n")
            + "\n</table>\n"
    }
}
