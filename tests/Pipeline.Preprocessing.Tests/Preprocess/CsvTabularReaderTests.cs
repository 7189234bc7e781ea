using System.Text;
using Pipeline.Preprocessing;
using Pipeline.Preprocessing.Formats;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>
/// The CSV reader against what generated files are known to hold: files of several MB, so records, quoted fields,
/// CRLF pairs and multi-byte characters fall across the reader's 64 KB byte reads and its blocks of decoded text.
/// </summary>
public sealed class CsvTabularReaderTests : IDisposable
{
    private static readonly string[] Plain = ["12.5", "-3", "", "NA", "red", "a b", "é", "中文", "😀", "x\"y"];

    private static readonly string[] Quoted = ["a,b", "say \"hi\"", "two\nlines", "crlf\r\nline", "\"", ",", "  padded  ", "😀,\"😀\""];

    private readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(',', "\n", false, false)]
    [InlineData(',', "\r\n", true, false)]
    [InlineData('\t', "\n", false, true)]
    [InlineData(';', "\r", false, false)]
    public async Task Reads_every_field_and_line_of_a_large_file(char delimiter, string lineEnd, bool bom, bool gzip)
    {
        var (bytes, expected) = Generate(delimiter, lineEnd, seed: 7, rows: 40_000);
        Assert.True(bytes.Length > 3 * 1024 * 1024, $"generated only {bytes.Length} bytes");
        var name = (delimiter == '\t' ? "data.tsv" : "data.csv") + (gzip ? ".gz" : "");
        var path = Write(name, bom ? [0xEF, 0xBB, 0xBF, .. bytes] : bytes, gzip);

        using var reader = await TabularReader.OpenAsync(path, name, TestContext.Current.CancellationToken);
        Assert.Equal(["id", "value", "note", "amount"], reader.Columns);
        var block = new RowBlock();
        var row = 0;
        var blocks = 0;
        while (reader.ReadBlock(block, TestContext.Current.CancellationToken))
        {
            blocks++;
            for (var r = 0; r < block.Count; r++, row++)
            {
                var (line, fields) = expected[row];
                Assert.Equal(line, block.Line(r));
                Assert.Equal(fields.Length, block.FieldCount(r));
                for (var f = 0; f < fields.Length; f++)
                {
                    Assert.Equal(fields[f], block.Field(r, f).ToString());
                }
            }
        }

        Assert.Equal(expected.Count, row);
        Assert.True(blocks > 4, $"{blocks} blocks: the file should span several");
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public async Task A_quote_never_closed_drops_its_line_and_the_lines_after_it_are_read(string lineEnd)
    {
        var text = new StringBuilder("a,b").Append(lineEnd);
        for (var i = 0; i < 50_000; i++)
        {
            text.Append(i).Append(",x").Append(lineEnd);
        }

        text.Append("1,\"never closed").Append(lineEnd).Append("2,y").Append(lineEnd).Append("3,z");
        var path = Write("data.csv", Encoding.UTF8.GetBytes(text.ToString()));

        var rows = await ReadAllAsync(path, "data.csv");

        Assert.Equal(50_003, rows.Count);
        Assert.Equal((50_001L, "49999"), (rows[49_999].Line, rows[49_999].Fields[0]));
        Assert.Equal((50_002L, "unreadable|unclosed quote: 1,\"never closed"), Row(rows[50_000]));
        Assert.Equal((50_003L, "2|y"), Row(rows[50_001]));
        Assert.Equal((50_004L, "3|z"), Row(rows[50_002]));
    }

    [Fact]
    public async Task A_quote_still_open_after_a_million_characters_drops_its_line_and_reads_on()
    {
        // The quote would take every line after it into one field: past 1 M characters its line is dropped instead, and
        // the rest of the file, read again from the next line, is records.
        var text = new StringBuilder("a,b\n0,\"open\n");
        for (var i = 1; i <= 200_000; i++)
        {
            text.Append(i).Append(",x\n");
        }

        var path = Write("data.csv", Encoding.UTF8.GetBytes(text.ToString()));

        var rows = await ReadAllAsync(path, "data.csv");

        Assert.Equal(200_001, rows.Count);
        Assert.Equal((2L, "unreadable|unclosed quote: 0,\"open"), Row(rows[0]));
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.Equal((i + 2L, $"{i}|x"), Row(rows[i]));
        }
    }

    [Fact]
    public async Task A_quote_never_closed_after_a_closed_multiline_field_drops_the_record_through_the_quotes_line()
    {
        // Line 2 opens a field that closes on line 4; line 4 then opens one that never does. Lines 2 to 4 are dropped
        // (line 3 is text inside a cell, not a row), the quote's line named with its text, and line 5 is read.
        var path = Write("data.csv", Encoding.UTF8.GetBytes("a,b\n\"x\n5,6\n\",\"oops\n7,8\n"));

        var rows = (await ReadAllAsync(path, "data.csv")).Select(Row).ToList();

        Assert.Equal(
            [
                (2L, "unreadable|in a record whose quote at line 4 never closes"),
                (3L, "unreadable|in a record whose quote at line 4 never closes"),
                (4L, "unreadable|unclosed quote: \",\"oops"),
                (5L, "7|8"),
            ],
            rows);
    }

    [Fact]
    public async Task Quotes_that_pair_across_every_line_and_never_close_are_dropped_in_one_pass()
    {
        // Each line's second quote closes on the next line, so one record runs to the end of the file, where the last
        // line's quote never closes: every line is dropped once (read again line by line, this was quadratic in time and
        // in the text the unescaped fields left behind).
        var text = new StringBuilder("h1,h2,h3\n");
        for (var i = 0; i < 25_000; i++)
        {
            text.Append("\"a\",\"b\n");
        }

        var path = Write("data.csv", Encoding.UTF8.GetBytes(text.ToString()));

        var rows = await ReadAllAsync(path, "data.csv");

        Assert.Equal(25_000, rows.Count);
        Assert.All(rows, r => Assert.Equal("unreadable", r.Fields[0]));
        Assert.Equal((25_001L, "unreadable|unclosed quote: \"a\",\"b"), Row(rows[^1]));
    }

    [Fact]
    public async Task A_dropped_quote_line_whose_CRLF_straddles_two_blocks_keeps_the_line_numbers()
    {
        // The reader's text grows 256 K characters a block; the record open since line 2 passes 1 M characters in the
        // fifth (1,310,720 characters in), which ends between the CR and the LF of line 2.
        var text = new StringBuilder("a,b\n1,\"").Append('x', (5 * 262_144) - 1 - 7).Append("\r\n2,y\r\n3,z\r\n");
        var path = Write("data.csv", Encoding.UTF8.GetBytes(text.ToString()));

        var rows = (await ReadAllAsync(path, "data.csv")).Select(Row).Where(r => r.Fields != "").ToList();

        Assert.Equal([(2L, "unreadable|unclosed quote: 1,\"" + new string('x', 197) + "…"), (3L, "2|y"), (4L, "3|z")], rows);
    }

    [Fact]
    public async Task A_header_whose_quote_never_closes_is_rejected_with_its_line()
    {
        var path = Write("data.csv", Encoding.UTF8.GetBytes("\n\"a,b\n1,2\n"));

        var error = await Assert.ThrowsAsync<DatasetRejectedException>(() => ReadAllAsync(path, "data.csv"));

        Assert.Equal(("malformed-csv", 2), (error.Reason, error.Line));
    }

    [Fact]
    public async Task A_record_longer_than_the_limit_is_rejected_without_reading_the_rest()
    {
        var text = new StringBuilder("a,b\n1,\"");
        text.Append('z', 1 << 21); // the reader's limit is about 1 M characters a record
        var path = Write("data.csv", Encoding.UTF8.GetBytes(text.Append("\"\n").ToString()));

        var error = await Assert.ThrowsAsync<DatasetRejectedException>(() => ReadAllAsync(path, "data.csv"));

        Assert.Equal("malformed-csv", error.Reason);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public async Task Invalid_utf8_far_into_the_file_is_read_as_a_replacement_character_and_counted_with_its_line()
    {
        var text = new StringBuilder("a,b\n");
        for (var i = 0; i < 100_000; i++)
        {
            text.Append(i).Append(",é\n");
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString()).Concat(new byte[] { 0x31, 0x2C, 0xC3, 0x28, 0x0A }).ToArray();
        var path = Write("data.csv", bytes);

        using var reader = await TabularReader.OpenAsync(path, "data.csv", TestContext.Current.CancellationToken);
        var block = new RowBlock();
        (long Line, string Value) last = default;
        while (reader.ReadBlock(block, TestContext.Current.CancellationToken))
        {
            last = (block.Line(block.Count - 1), block.Field(block.Count - 1, 1).ToString());
        }

        Assert.Equal((100_002L, "\uFFFD("), last);
        Assert.Equal((1L, 100_002L), (reader.InvalidSequences, reader.FirstInvalidLine));
    }

    [Fact]
    public async Task Blank_lines_before_the_header_of_a_large_file_are_skipped()
    {
        var text = new StringBuilder("\n  \n\n\na,b\n");
        for (var i = 0; i < 200_000; i++)
        {
            text.Append(i).Append(",x\n");
        }

        var path = Write("data.csv", Encoding.UTF8.GetBytes(text.ToString()));

        var rows = await ReadAllAsync(path, "data.csv");

        Assert.Equal(200_000, rows.Count);
        Assert.Equal((6L, "0"), (rows[0].Line, rows[0].Fields[0]));
        Assert.Equal("199999", rows[^1].Fields[0]);
    }

    [Theory]
    [InlineData("\n  \n\r\n", ';')]
    [InlineData("\n\n", '\t')]
    [InlineData("", '|')]
    public async Task The_delimiter_is_detected_on_the_header_after_blank_lines(string blanks, char delimiter)
    {
        var d = delimiter.ToString();
        var text = Encoding.UTF8.GetBytes(blanks + string.Join(d, "id", "\"a,b\"", "note") + "\n" + string.Join(d, "1", "2,5", "x") + "\n");

        foreach (var bytes in new[] { text, [0xEF, 0xBB, 0xBF, .. text] })
        {
            using var reader = await TabularReader.OpenAsync(Write("data.csv", bytes), "data.csv", TestContext.Current.CancellationToken);
            Assert.Equal(["id", "a,b", "note"], reader.Columns);
        }
    }

    [Fact]
    public async Task Blank_lines_are_rows_of_one_empty_field_and_the_last_line_needs_no_line_end()
    {
        var path = Write("data.csv", Encoding.UTF8.GetBytes("a,b\n\n1,2\n   \n3,4"));

        var rows = await ReadAllAsync(path, "data.csv");

        Assert.Equal(["2:", "3:1|2", "4:", "5:3|4"], rows.Select(r => $"{r.Line}:{string.Join('|', r.Fields)}"));
    }

    [Theory]
    [InlineData(',', " ")]
    [InlineData(',', "\t")]
    [InlineData(',', "\u00A0")]
    [InlineData(',', "\u3000")]
    [InlineData('\t', " ")]
    [InlineData(';', "\u2003 ")]
    public async Task White_space_around_unquoted_fields_is_trimmed_wherever_it_falls_in_the_record(char delimiter, string space)
    {
        // Records of 1 to ~60 characters with the padding at every place: within the first 16 characters, across and
        // after them, and in a tail shorter than 16; fields with non-ASCII letters but no white space stay as they are.
        var text = new StringBuilder($"a{delimiter}b{delimiter}c\n");
        var expected = new List<string>();
        for (var length = 1; length <= 20; length++)
        {
            for (var at = 0; at < 3; at++)
            {
                var fields = new[] { new string('x', length), "é" + new string('7', length % 5), "ü" };
                var written = fields.ToArray();
                written[at] = space + written[at] + space + space;
                text.AppendJoin(delimiter, written).Append('\n');
                expected.Add(string.Join('|', fields));
            }
        }

        var path = Write("data.csv", Encoding.UTF8.GetBytes(text.ToString()));

        var rows = await ReadAllAsync(path, "data.csv");

        Assert.Equal(expected, rows.Select(r => string.Join('|', r.Fields)));
    }

    private static (long Line, string Fields) Row((long Line, string[] Fields) row) => (row.Line, string.Join('|', row.Fields));

    private static async Task<List<(long Line, string[] Fields)>> ReadAllAsync(string path, string name)
    {
        using var reader = await TabularReader.OpenAsync(path, name, CancellationToken.None);
        var block = new RowBlock();
        var rows = new List<(long, string[])>();
        while (reader.ReadBlock(block, CancellationToken.None))
        {
            for (var r = 0; r < block.Count; r++)
            {
                // An unreadable row as "unreadable" and its description.
                rows.Add((block.Line(r), block.FieldCount(r) < 0 ? ["unreadable", block.Describe(r)] : Enumerable.Range(0, block.FieldCount(r)).Select(f => block.Field(r, f).ToString()).ToArray()));
            }
        }

        return rows;
    }

    /// <summary>Rows of id, value, note, amount; returns the file and, per row, its first line and its fields as read (trimmed).</summary>
    private static (byte[] Bytes, List<(long Line, string[] Fields)> Rows) Generate(char delimiter, string lineEnd, int seed, int rows)
    {
        var random = new Random(seed);
        var text = new StringBuilder().Append($"id{delimiter}value{delimiter}note{delimiter}amount").Append(lineEnd);
        var expected = new List<(long, string[])>();
        long line = 2;
        for (var i = 0; i < rows; i++)
        {
            var fields = new string[4];
            var written = new string[4];
            var breaks = 0;
            for (var f = 0; f < 4; f++)
            {
                if (random.Next(4) == 0)
                {
                    var value = Quoted[random.Next(Quoted.Length)];
                    written[f] = "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
                    fields[f] = value.Trim();
                }
                else
                {
                    var value = f == 0 ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : Plain[random.Next(Plain.Length)];
                    value = random.Next(10) == 0 ? " " + value + "  " : value;
                    written[f] = value;
                    fields[f] = value.Trim();
                }

                // A long field now and then, so records vary from a few bytes to a few KB.
                if (random.Next(200) == 0)
                {
                    fields[f] = written[f] = new string('w', random.Next(1000, 5000));
                }

                breaks += written[f].Count(c => c == '\n');
            }

            text.AppendJoin(delimiter, written).Append(lineEnd);
            expected.Add((line, fields));
            line += 1 + breaks;
        }

        return (Encoding.UTF8.GetBytes(text.ToString()), expected);
    }

    private string Write(string name, byte[] bytes, bool gzip = false)
    {
        var path = _folder.File(name);
        File.WriteAllBytes(path, gzip ? DatasetBuilderHarness.Gzip(bytes) : bytes);
        return path;
    }
}
