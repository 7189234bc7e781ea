using System.Text;
using Pipeline.Preprocessing;
using Pipeline.Preprocessing.Formats;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>The JSON Lines reader's line splitter: the lines <see cref="TextReader.ReadLine"/> gives, with a bound.</summary>
public sealed class BoundedLineReaderTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Splits_like_ReadLine_with_line_ends_across_its_reads(int seed)
    {
        // Long texts of few characters: CR, LF and CRLF fall on every side of the reader's 64 K-character reads.
        var random = new Random(seed);
        const string alphabet = "ab\r\n\n\r";
        var text = new string(Enumerable.Range(0, 300_000).Select(_ => random.Next(10) < 7 ? 'x' : alphabet[random.Next(alphabet.Length)]).ToArray());
        var expected = new List<string>();
        using (var reference = new StringReader(text))
        {
            while (reference.ReadLine() is { } line)
            {
                expected.Add(line);
            }
        }

        Assert.Equal(expected, ReadAll(new BoundedLineReader(new StringReader(text), 1 << 20, "malformed-jsonl")));
    }

    private static List<string> ReadAll(BoundedLineReader lines)
    {
        var all = new List<string>();
        while (lines.ReadLine(all.Count + 1) is { } line)
        {
            all.Add(line);
        }

        return all;
    }

    [Fact]
    public void A_crlf_split_by_the_readers_64_K_reads_ends_one_line()
    {
        var text = new string('a', 65_535) + "\r\nb\rc";
        foreach (var reader in new TextReader[] { new StringReader(text), new Trickle(text) })
        {
            var lines = new BoundedLineReader(reader, 1 << 20, "malformed-jsonl");
            Assert.Equal(65_535, lines.ReadLine(1)!.Length);
            Assert.Equal("b", lines.ReadLine(2));
            Assert.Equal("c", lines.ReadLine(3));
            Assert.Null(lines.ReadLine(4));
        }
    }

    /// <summary>A reader that gives one character per read: every line end falls across reads.</summary>
    private sealed class Trickle(string text) : TextReader
    {
        private int _at;

        public override int Read(char[] buffer, int index, int count)
        {
            if (_at == text.Length || count == 0)
            {
                return 0;
            }

            buffer[index] = text[_at++];
            return 1;
        }
    }

    [Theory]
    [InlineData("", new string[0])]
    [InlineData("a", new[] { "a" })]
    [InlineData("a\r\n", new[] { "a" })]
    [InlineData("\n\n", new[] { "", "" })]
    [InlineData("a\rb\r\nc\nd", new[] { "a", "b", "c", "d" })]
    public void Splits_short_texts_like_ReadLine(string text, string[] expected)
    {
        Assert.Equal(expected, ReadAll(new BoundedLineReader(new StringReader(text), 100, "malformed-jsonl")));
    }

    [Fact]
    public void A_line_past_the_bound_is_rejected_naming_it()
    {
        var text = "short\n" + new string('x', 200_000) + "\nlast\n";
        var lines = new BoundedLineReader(new StringReader(text), 100_000, "malformed-jsonl");

        Assert.Equal("short", lines.ReadLine(1));
        var rejection = Assert.Throws<DatasetRejectedException>(() => lines.ReadLine(2));
        Assert.Equal("malformed-jsonl", rejection.Reason);
        Assert.Equal(2, rejection.Line);
    }

    [Fact]
    public async Task A_json_lines_file_without_line_breaks_is_rejected_not_read_whole()
    {
        // One object per line is the format; a file written as one long line must not become one string as long as the file.
        var json = new StringBuilder("{\"a\":1,\"b\":2}\n");
        while (json.Length < (3 << 20))
        {
            json.Append("{\"a\":1,\"b\":2} ");
        }

        var rejection = await DatasetBuilderHarness.RejectAsync(Encoding.UTF8.GetBytes(json.ToString()), "data.jsonl");

        Assert.Equal("malformed-jsonl", rejection.Reason);
        Assert.Equal(2, rejection.Line);
        Assert.Contains("Line 2 is longer than", rejection.Message, StringComparison.Ordinal);
    }
}
