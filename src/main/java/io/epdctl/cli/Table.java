package io.epdctl.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * Aligned columns, as status and ls print them: the widths are those of the plain text, so that a coloured
 * state column (on a terminal) lines up like a plain one.
 */
final class Table {
    private final String[] header;
    private final int stateColumn;
    private final List<String[]> rows = new ArrayList<>();

    /** @param stateColumn the column coloured as {@link Terminal#colourOf} says, or -1 */
    Table(int stateColumn, String... header) {
        this.header = header;
        this.stateColumn = stateColumn;
    }

    Table row(String... cells) {
        if (cells.length != header.length) {
            throw new IllegalArgumentException(cells.length + " cells for " + header.length + " columns");
        }
        rows.add(cells);
        return this;
    }

    /** The lines, without a trailing newline; {@code styled} colours the state column. */
    String render(boolean styled) {
        int[] widths = new int[header.length];
        List<String[]> all = new ArrayList<>();
        all.add(header);
        all.addAll(rows);
        for (String[] line : all) {
            for (int i = 0; i < line.length; i++) {
                widths[i] = Math.max(widths[i], line[i].length());
            }
        }
        StringBuilder text = new StringBuilder();
        for (int r = 0; r < all.size(); r++) {
            String[] line = all.get(r);
            StringBuilder row = new StringBuilder();
            for (int i = 0; i < line.length; i++) {
                boolean last = i == line.length - 1;
                String cell = last ? line[i] : String.format("%-" + widths[i] + "s", line[i]);
                if (i == stateColumn && r > 0) {
                    cell = Terminal.state(styled, line[i], last ? line[i].length() : widths[i]);
                }
                row.append(cell).append(last ? "" : "  ");
            }
            text.append(row.toString().stripTrailing()).append('\n');
        }
        return text.toString().stripTrailing();
    }
}
