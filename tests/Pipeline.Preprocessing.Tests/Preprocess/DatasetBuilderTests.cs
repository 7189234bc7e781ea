using System.Globalization;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Preprocessing;
using Pipeline.Tests.Infrastructure;
using static Pipeline.Tests.Functions.Preprocess.DatasetBuilderHarness;

namespace Pipeline.Tests.Functions.Preprocess;

public class DatasetBuilderTests
{
    private static string Rows(string header, int count, Func<int, string> row)
    {
        var text = new StringBuilder(header).Append('\n');
        for (var i = 0; i < count; i++)
        {
            text.Append(row(i)).Append('\n');
        }

        return text.ToString();
    }

    private static readonly string[] SplitNames = ["train", "validation", "test"];

    private static string F(double value) => value.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task BuildAsync_ThreeClassCsv_InfersClassificationAndSplitsDeterministically()
    {
        var (csv, _) = SyntheticData.ThreeClass(500, seed: 1);

        var first = await BuildAsync(csv);
        var second = await BuildAsync(csv);

        Assert.Equal(TaskKind.Classification, first.Task);
        Assert.Equal("species", first.Target);
        Assert.Equal(SyntheticData.Classes, first.Labels);
        Assert.Equal(["f1", "f2", "f3", "f4"], first.Features.Select(f => f.Name));
        Assert.Contains(first.ExcludedColumns, c => c.Name == "comment" && c.Reason.StartsWith("free text", StringComparison.Ordinal));
        Assert.Equal(500, first.Rows.Train + first.Rows.Validation + first.Rows.Test);
        Assert.Equal(75, first.Rows.Test);
        Assert.Equal(75, first.Rows.Validation);
        Assert.Equal(first.Split("test").Target, second.Split("test").Target);
        Assert.Equal(first.Split("train").Features[2], second.Split("train").Features[2]);
        Assert.Equal("accepted", first.Report.Status);
    }

    [Fact]
    public async Task BuildAsync_MissingAndUnparseableCells_AreImputedWithTrainMedianAndCounted()
    {
        var csv = Rows("a,b,y", 40, i =>
            $"{i switch { 3 => "", 7 => "NA", 11 => "oops", 12 => "null", _ => F(i % 5) }},{F(i * 0.5)},{F((i * 1.25) + 0.1)}");

        var data = await BuildAsync(csv);

        Assert.Equal(TaskKind.Regression, data.Task);
        var a = data.Features[0];
        Assert.Equal(3, a.Missing);
        Assert.Equal(1, a.Unparseable);
        Assert.Equal(4, data.Rows.ImputedCells);
        Assert.All(SplitNames, s => Assert.All(data.Split(s).Features[0], v => Assert.False(float.IsNaN(v))));
        Assert.Contains(data.Warnings, w => w.Contains("median", StringComparison.Ordinal));
        var profile = data.Report.Columns.Single(c => c.Name == "a");
        Assert.Equal(0.075, profile.MissingShare);
    }

    [Fact]
    public async Task BuildAsync_IntegerTargetWithFewValues_IsClassificationUnlessSpecSaysRegression()
    {
        var csv = Rows("x,label", 60, i => $"{F(i * 7 % 13)},{i % 3}");

        var classification = await BuildAsync(csv);
        Assert.Equal(TaskKind.Classification, classification.Task);
        Assert.Equal(["0", "1", "2"], classification.Labels);
        Assert.Equal(TaskKind.Regression, (await BuildAsync(csv, new DatasetSpec { Task = "regression" })).Task);
    }

    [Fact]
    public async Task BuildAsync_SpecTarget_ChoosesTargetAndIgnoresColumns()
    {
        var csv = Rows("y,x1,x2,id", 40, i => $"{(i % 2 == 0 ? "yes" : "no")},{F(i * 3 % 17)},{F(i * 2 % 7)},{1000 + i}");

        var data = await BuildAsync(csv, new DatasetSpec { Target = "y", Ignore = ["id"] });

        Assert.Equal("y", data.Target);
        Assert.Equal(["no", "yes"], data.Labels);
        Assert.Equal(["x1", "x2"], data.Features.Select(f => f.Name));
        Assert.Contains(data.ExcludedColumns, c => c.Name == "id" && c.Reason == "ignored by dataset.json");
        Assert.Equal((ColumnKinds.Identifier, "excluded"), data.Report.Columns.Where(c => c.Name == "id").Select(c => (c.Type, c.Role)).Single());
    }

    [Fact]
    public async Task BuildAsync_ColumnsDifferingOnlyInCase_AreTwoFeatures_AndATargetNamedExactlyIsTheOne()
    {
        var random = new Random(3);
        var csv = new StringBuilder("Skew_Maxis,Skew_maxis,Label,label\n");
        for (var i = 0; i < 200; i++)
        {
            var k = random.Next(2);
            csv.Append(CultureInfo.InvariantCulture, $"{k + random.NextDouble():F3},{random.NextDouble():F3},{(k == 0 ? "no" : "yes")},{random.Next(100)}\n");
        }

        var data = await BuildAsync(csv.ToString(), new DatasetSpec { Target = "Label" });

        Assert.Equal("Label", data.Target);
        Assert.Equal(["Skew_Maxis", "Skew_maxis", "label"], data.Features.Select(f => f.Name));
        var ambiguous = await RejectAsync([("data.csv", Utf8(csv.ToString()))], new DatasetSpec { Target = "LABEL" });
        Assert.Equal("target-not-found", ambiguous.Reason);
        Assert.Contains("differ only in case", ambiguous.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "empty-file")]
    [InlineData("a,b,c\n", "header-only")]
    [InlineData("value\n1\n2\n3\n", "one-column")]
    [InlineData("a,b\n1,\n2,\n3,NA\n", "target-all-missing")]
    [InlineData("a,b\n1,x\n2,x\n3,x\n", "single-class")]
    [InlineData("a,a\n1,2\n", "duplicate-column")]
    [InlineData("a,b\n1,2\n2,3\n", "too-few-rows")]
    [InlineData("{\"a\":1,\"b\":2}\n[1,2]\n", "ragged-rows")]
    public async Task BuildAsync_BadInput_IsRejectedWithReasonAndReport(string csv, string reason)
    {
        var rejection = await RejectAsync(Utf8(csv), csv.StartsWith('{') ? "data.jsonl" : "data.csv");

        Assert.Equal(reason, rejection.Reason);
        Assert.False(string.IsNullOrWhiteSpace(rejection.Message));
        Assert.NotNull(rejection.Report);
        Assert.Single(rejection.Report.Files);
    }

    [Fact]
    public async Task BuildAsync_BinaryGarbage_IsRejectedAsBinary()
    {
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);

        Assert.Equal("binary-content", (await RejectAsync(bytes)).Reason);
    }

    [Fact]
    public async Task BuildAsync_AFewBytesThatAreNotUtf8_AreReadAsReplacementCharactersWithAWarning()
    {
        // One row of 60 has a Windows-1252 'é' (0xE9): the file is UTF-8 with damage, and it trains.
        var csv = Utf8(Rows("city,x,label", 60, i => $"{(i == 30 ? "CAFE" : i % 2 == 0 ? "oslo" : "rome")},{i * 7 % 13},{(i % 2 == 0 ? "a" : "b")}"));
        var at = Array.IndexOf(csv, (byte)'E', Array.IndexOf(csv, (byte)'C', 10) + 3);
        csv[at] = 0xE9;

        var data = await BuildAsync([("data.csv", csv)]);

        Assert.Equal(60, data.Rows.Used);
        var warning = Assert.Single(data.Report.Warnings, w => w.Code == "invalid-utf8");
        Assert.Contains("1 byte sequence(s)", warning.Message, StringComparison.Ordinal);
        Assert.Contains("line 32", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_BytesThatAreNotUtf8_AreCountedOnceAndTheirLineCountsLoneCarriageReturns()
    {
        // CR line ends; the bad byte on line 12 of the first file. The second file fails part-way (ragged from its 40th
        // row on), so the files are profiled again: the first file's warning must still be said once.
        var first = Utf8(string.Join('\r', Enumerable.Range(0, 41).Select(i => i == 0 ? "city,x,label" : $"{(i == 11 ? "CAFE" : "oslo")},{i % 7},{(i % 2 == 0 ? "a" : "b")}")) + "\r");
        first[Array.IndexOf(first, (byte)'E', Array.IndexOf(first, (byte)'C', 5))] = 0xE9;
        var second = Utf8(Rows("city,x,label", 80, i => i < 40 ? $"rome,{i % 5},{(i % 2 == 0 ? "a" : "b")}" : "rome"));

        var data = await BuildAsync([("a.csv", first), ("b.csv", second)]);

        Assert.Equal((true, false), (data.Files[0].Used, data.Files[1].Used));
        var warning = Assert.Single(data.Report.Warnings, w => w.Code == "invalid-utf8");
        Assert.Contains("line 12", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_ALargeFileInAnotherEncoding_IsRejectedWithinItsFirstBlocks()
    {
        var csv = Rows("city,x,label", 40_000, i => $"{(i % 2 == 0 ? "Zürich" : "Genève")},{i % 13},{(i % 2 == 0 ? "a" : "b")}");

        var rejection = await RejectAsync(Encoding.Latin1.GetBytes(csv));

        Assert.Equal("not-utf8", rejection.Reason);
        var rows = int.Parse(System.Text.RegularExpressions.Regex.Match(rejection.Message, @"in (\d+) rows").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(rows, 1000, 39_999);
    }

    [Fact]
    public async Task BuildAsync_JsonLinesNotAllUtf8_IsWarnedAboutOrRejectedLikeCsv()
    {
        string Lines(Func<int, string> city) => string.Concat(Enumerable.Range(0, 60).Select(i => $"{{\"city\":\"{city(i)}\",\"x\":{i % 7},\"label\":\"{(i % 2 == 0 ? "a" : "b")}\"}}\n"));

        // One line (line 31) with a Windows-1252 'é': it trains, with a warning naming the line.
        var few = Encoding.Latin1.GetBytes(Lines(i => i == 30 ? "Genève" : i % 2 == 0 ? "oslo" : "rome"));
        var data = await BuildAsync([("data.jsonl", few)]);
        Assert.Equal(60, data.Rows.Used);
        Assert.Contains("line 31", Assert.Single(data.Report.Warnings, w => w.Code == "invalid-utf8").Message, StringComparison.Ordinal);

        // Every line in Windows-1252: another encoding.
        var rejection = await RejectAsync(Encoding.Latin1.GetBytes(Lines(i => i % 2 == 0 ? "Zürich" : "Genève")), "data.jsonl");
        Assert.Equal(("not-utf8", 1), (rejection.Reason, rejection.Line));
    }

    [Fact]
    public async Task BuildAsync_HeaderOnlyFileWithABadByte_IsHeaderOnly()
    {
        var rejection = await RejectAsync([0x63, 0x69, 0x74, 0xE9, 0x2C, 0x78, 0x0A]);

        Assert.Equal("header-only", rejection.Reason);
    }

    [Fact]
    public async Task BuildAsync_AFileInAnotherEncoding_IsRejectedAsNotUtf8NamingTheFirstLine()
    {
        var csv = Rows("city,x,label", 60, i => $"{(i % 2 == 0 ? "Zürich" : "Genève")},{i * 7 % 13},{(i % 2 == 0 ? "a" : "b")}");

        var rejection = await RejectAsync(Encoding.Latin1.GetBytes(csv));

        Assert.Equal("not-utf8", rejection.Reason);
        Assert.Equal(2, rejection.Line);
        Assert.Contains("Windows-1252", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_ManyRaggedRows_IsRejectedNamingTheFirstLine()
    {
        var csv = Rows("a,b,c", 30, i => i % 3 == 0 ? $"{i},{i}" : $"{i},{i},{i % 2}");

        var rejection = await RejectAsync(Utf8(csv));

        Assert.Equal("ragged-rows", rejection.Reason);
        Assert.Equal(2, rejection.Line);

        // The report says which rows were ragged, with their lines, not only that the file was.
        var ragged = Assert.Single(rejection.Report!.Dropped);
        Assert.Equal("ragged", ragged.Reason);
        Assert.Equal(10, ragged.Count);
        Assert.Equal(2L, ragged.Examples[0].Line);
        Assert.Equal("0,0", ragged.Examples[0].Text);
    }

    [Fact]
    public async Task BuildAsync_TargetRejection_StillReportsEveryColumn()
    {
        var csv = Rows("amount,city,label", 40, i => $"{i * 3 % 17},{(i % 2 == 0 ? "oslo" : "rome")},same");

        var rejection = await RejectAsync(Utf8(csv));

        Assert.Equal("single-class", rejection.Reason);
        var columns = rejection.Report!.Columns;
        Assert.Equal(["amount", "city", "label"], columns.Select(c => c.Name));
        Assert.Equal("target", columns[2].Role);
        Assert.InRange(columns[0].Max!.Value, 10, 16); // train rows only
        Assert.Equal(["oslo", "rome"], columns[1].TopValues!.Select(v => v.Value));
    }

    [Fact]
    public async Task BuildAsync_FewRaggedRows_AreDroppedWithExamplesAndLineNumbers()
    {
        var csv = Rows("a,b,c", 60, i => i is 10 or 20 ? "1,2" : $"{i * 5 % 11},{i * 3 % 11},{i % 2}");

        var data = await BuildAsync(csv);

        Assert.Equal(2, data.Rows.DroppedRagged);
        Assert.Equal(58, data.Rows.Used);
        var dropped = Assert.Single(data.Report.Dropped);
        Assert.Equal("ragged", dropped.Reason);
        Assert.Equal([12L, 22L], dropped.Examples.Select(e => e.Line));
        Assert.Equal("1,2", dropped.Examples[0].Text);
        Assert.Contains(data.Report.Warnings, w => w.Code == "dropped-rows" && w.Message.Contains("line 12", StringComparison.Ordinal) && w.Message.Contains("58", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BuildAsync_QuoteNeverClosed_DropsItsLineAsUnreadable_AndTrainsOnTheRest()
    {
        // A file cut short inside a quoted field, or a stray quote: the rows before and after it are kept.
        var csv = Rows("a,b,c", 60, i => i == 30 ? "1,\"oops,0" : $"{i * 5 % 11},{i * 3 % 11},{i % 2}");

        var data = await BuildAsync(csv);

        Assert.Equal(59, data.Rows.Used);
        var dropped = Assert.Single(data.Report.Dropped);
        Assert.Equal(("unreadable", 1L), (dropped.Reason, dropped.Count));
        Assert.Equal((32L, "unclosed quote: 1,\"oops,0"), (dropped.Examples[0].Line, dropped.Examples[0].Text));
        Assert.Contains(data.Report.Warnings, w => w.Code == "dropped-rows" && w.Message.Contains("(1 unreadable)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BuildAsync_NumericTargetWithAFewStrayTexts_IsRegressionDroppingThoseRows()
    {
        // 300 distinct prices and two "unknown": a quantity with two unreadable rows, not a 301-class target.
        var csv = Rows("size,rooms,price", 300, i => $"{i * 7 % 97},{i % 5},{(i is 40 or 41 ? "unknown" : F(100 + (i * 1.5)))}");

        var data = await BuildAsync(csv);

        Assert.Equal(TaskKind.Regression, data.Task);
        Assert.Equal(298, data.Rows.Used);
        Assert.Equal(2, data.Rows.DroppedUnreadableTarget);
        var dropped = Assert.Single(data.Report.Dropped);
        Assert.Equal("unreadable-target", dropped.Reason);
        Assert.Equal([42L, 43L], dropped.Examples.Select(e => e.Line));
    }

    [Fact]
    public async Task BuildAsync_Utf8BomAndCrlfAndQuotesWithDelimitersAndNewlines_AreRead()
    {
        var csv = new StringBuilder("\"size, cm\",weight,note,kind\r\n");
        for (var i = 0; i < 40; i++)
        {
            csv.Append(i * 7 % 13).Append(",\"").Append(i * 2 % 9).Append("\",\"line one\r\nline, two ").Append(i).Append("\",").Append(i % 2 == 0 ? "\"a, b\"" : "c").Append("\r\n");
        }

        var data = await BuildAsync([("data.csv", [.. Encoding.UTF8.GetPreamble(), .. Utf8(csv.ToString())])]);

        Assert.Equal(["size, cm", "weight"], data.Features.Select(f => f.Name));
        Assert.Equal(["a, b", "c"], data.Labels);
        Assert.Equal(40, data.Rows.Used);
        Assert.Equal(",", data.Files[0].Delimiter);
    }

    [Theory]
    [InlineData("data.tsv", '\t')]
    [InlineData("data.csv", '\t')]
    [InlineData("data.csv", ';')]
    [InlineData("data.txt", '|')]
    [InlineData("export.dat", ';')]
    [InlineData("export", '\t')]
    public async Task BuildAsync_Delimiter_IsDetected(string name, char delimiter)
    {
        var d = delimiter.ToString();
        var csv = Rows(string.Join(d, "x", "y", "label"), 40, i => string.Join(d, F(i * 3 % 7), F(i * 5 % 11), i % 2 == 0 ? "p" : "q"));

        var data = await BuildAsync([(name, Utf8(csv))]);

        Assert.Equal(["x", "y"], data.Features.Select(f => f.Name));
        Assert.Equal(delimiter == '\t' ? "\\t" : d, data.Files[0].Delimiter);
    }

    [Theory]
    [InlineData("data.csv.gz", true)]
    [InlineData("data.csv", true)]
    [InlineData("data.jsonl", false)]
    [InlineData("data.ndjson", false)]
    [InlineData("data.jsonl.gz", false)]
    [InlineData("export", false)]
    public async Task BuildAsync_CompressedAndJsonLinesFiles_GiveTheSameDataset(string name, bool csv)
    {
        var (text, rows) = SyntheticData.ThreeClass(200, seed: 5, withNoiseColumns: false);
        var reference = await BuildAsync(text);
        var bytes = csv
            ? Gzip(Utf8(text))
            : Utf8(string.Concat(rows.Select(r =>
                $"{{\"f1\":{F(Math.Round(r.Features[0], 4))},\"f2\":{F(Math.Round(r.Features[1], 4))},\"f3\":\"{F(Math.Round(r.Features[2], 4))}\",\"f4\":{F(Math.Round(r.Features[3], 4))},\"species\":\"{r.Label}\"}}\n")));
        if (name.EndsWith(".gz", StringComparison.Ordinal) && !csv)
        {
            bytes = Gzip(bytes);
        }

        var data = await BuildAsync([(name, bytes)]);

        Assert.Equal(reference.Features.Select(f => f.Name), data.Features.Select(f => f.Name));
        Assert.Equal(reference.Labels, data.Labels);
        // The split is seeded by the file's content hash, so compare the rows regardless of the split they fell in.
        Assert.Equal(AllRows(reference), AllRows(data));
        Assert.StartsWith(csv ? "csv+gzip" : "jsonl", data.Files[0].Format, StringComparison.Ordinal);
    }

    private static List<string> AllRows(PreparedDataset data) => SplitNames.Select(data.Split)
        .SelectMany(s => Enumerable.Range(0, s.RowCount).Select(r => string.Join(',', s.Features.Select(f => F(Math.Round(f[r], 3))).Append(F(s.Target[r])))))
        .Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task BuildAsync_JsonLinesWithNullsMissingKeysAndBadLines_ReadsTheGoodRows()
    {
        var lines = new StringBuilder();
        for (var i = 0; i < 50; i++)
        {
            lines.Append(i switch
            {
                5 => "{\"x\":null,\"flag\":true,\"y\":\"a\"}",
                6 => "{\"flag\":false,\"y\":\"b\"}",
                7 => "not json " + new string('x', 300),
                _ => $"{{\"x\":{F(i * 7 % 10)},\"flag\":{(i % 3 == 0 ? "true" : "false")},\"y\":\"{(i % 2 == 0 ? "a" : "b")}\"}}",
            }).Append('\n');
        }

        var data = await BuildAsync([("d.jsonl", Utf8(lines.ToString()))]);

        Assert.Equal(["x", "flag"], data.Features.Select(f => f.Name));
        Assert.Equal(ColumnKinds.Boolean, data.Encodings[1].Kind);
        Assert.Equal(2, data.Features[0].Missing);
        var dropped = Assert.Single(data.Report.Dropped);
        Assert.Equal("unreadable", dropped.Reason);
        var example = dropped.Examples[0];
        Assert.Equal(8L, example.Line);
        Assert.Equal("not json " + new string('x', 191) + "…", example.Text); // the line as written, shortened to 200 characters
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.95)]
    [InlineData(0.9999)]
    public async Task BuildAsync_GzipCutShort_IsRejectedNotADatasetMissingItsLastRows(double kept)
    {
        // .NET's gzip decoder ends quietly where a truncated file ends; the trailer is what tells.
        var csv = new StringBuilder("x,y\n");
        for (var i = 0; i < 100_000; i++)
        {
            csv.Append(i % 977).Append(',').Append(i % 3 == 0 ? "a" : "b").Append('\n');
        }

        var whole = Gzip(Utf8(csv.ToString()));
        var data = await BuildAsync([("d.csv.gz", whole)]);
        Assert.Equal(100_000, data.Rows.Used);

        var rejection = await RejectAsync(whole[..(int)(whole.Length * kept)], "d.csv.gz");

        Assert.Equal("malformed-gzip", rejection.Reason);
        Assert.Contains("cut short", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_GzipMembersJoined_IsRejectedWithHowToFixIt()
    {
        var joined = Gzip(Utf8("x,y\n1,a\n2,b\n")).Concat(Gzip(Utf8("3,a\n4,b\n"))).ToArray();

        var rejection = await RejectAsync(joined, "d.csv.gz");

        Assert.Equal("malformed-gzip", rejection.Reason);
        Assert.Contains("compress the data as one", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_GzipWrappedParquetUnpackingFarPastItsSize_IsRejectedNotWrittenToDisk()
    {
        // 'PAR1' and 65 MB of zeros: ~64 KB of gzip that would unpack to 1,000 times its size.
        var bomb = new byte[65 << 20];
        "PAR1"u8.CopyTo(bomb);

        var rejection = await RejectAsync(Gzip(bomb), "d.parquet.gz");

        Assert.Equal("malformed-gzip", rejection.Reason);
        Assert.Contains("unpacks to more than 64 MB", rejection.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("d.parquet")]
    [InlineData("d.parquet.gz")]
    [InlineData("export.bin.gz")]
    public async Task BuildAsync_ParquetFile_IsRead(string name)
    {
        var rows = 60;
        var fields = new Parquet.Schema.DataField[]
        {
            new Parquet.Schema.DataField<double>("x"), new Parquet.Schema.DataField<int?>("n"), new Parquet.Schema.DataField<bool>("flag"),
            new Parquet.Schema.DataField<string>("city"), new Parquet.Schema.DataField<string>("label"),
        };
        using var buffer = new MemoryStream();
        await using (var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(fields), buffer, cancellationToken: TestContext.Current.CancellationToken))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync<double>(fields[0], Enumerable.Range(0, rows).Select(i => i * 0.37 % 5).ToArray(), cancellationToken: TestContext.Current.CancellationToken);
            await group.WriteAsync<int>(fields[1], Enumerable.Range(0, rows).Select(i => i % 9 == 0 ? (int?)null : i * 13 % 7).ToArray(), cancellationToken: TestContext.Current.CancellationToken);
            await group.WriteAsync<bool>(fields[2], Enumerable.Range(0, rows).Select(i => i % 4 == 0).ToArray(), cancellationToken: TestContext.Current.CancellationToken);
            await group.WriteAsync(fields[3], Enumerable.Range(0, rows).Select(i => (string?)(i % 3 == 0 ? "paris" : i % 3 == 1 ? "rome" : "oslo")).ToArray());
            await group.WriteAsync(fields[4], Enumerable.Range(0, rows).Select(i => (string?)(i % 2 == 0 ? "yes" : "no")).ToArray());
        }

        var gzip = name.EndsWith(".gz", StringComparison.Ordinal);
        var data = await BuildAsync([(name, gzip ? Gzip(buffer.ToArray()) : buffer.ToArray())]);

        Assert.Equal(gzip ? "parquet+gzip" : "parquet", data.Files[0].Format);
        Assert.Equal(["x", "n", "flag"], data.Features.Take(3).Select(f => f.Name));
        Assert.Equal(["city=oslo", "city=paris", "city=rome"], data.Features.Skip(3).Take(3).Select(f => f.Name).Order(StringComparer.Ordinal));
        Assert.Equal("city=*other*", data.Features[^1].Name);
        Assert.Equal(7, data.Features[1].Missing);
        Assert.Equal(60, data.Rows.Used);
    }

    [Fact]
    public async Task BuildAsync_ThousandsSeparatorsAndDecimalCommas_AreTextUnlessDeclared()
    {
        var csv = Rows("price;weight;y", 60, i => $"\"{1000 + (i * 37)},{i % 10}0\";{i % 7},{i % 3};{(i % 2 == 0 ? "a" : "b")}");

        var inferred = await BuildAsync(csv);
        Assert.DoesNotContain(inferred.Features, f => f.Name == "price");
        Assert.Contains(inferred.ExcludedColumns, c => c.Name == "price" && c.Reason.Contains("decimal comma", StringComparison.Ordinal));

        var declared = await BuildAsync(csv, new DatasetSpec
        {
            Columns = new() { ["price"] = new ColumnSpec { Type = "numeric", DecimalSeparator = "," }, ["weight"] = new ColumnSpec { Type = "numeric", DecimalSeparator = "," } },
        });
        Assert.Equal(["price", "weight"], declared.Features.Select(f => f.Name));
        Assert.InRange(declared.Features[1].Max, 6.0, 6.2);
        Assert.Equal(0, declared.Features[1].Unparseable);
        Assert.Equal(",", declared.Encodings[0].DecimalSeparator);
    }

    [Fact]
    public async Task BuildAsync_DeclaredTypeMostValuesDoNotReadAs_IsUsedAndReported()
    {
        // "size" declared numeric, but only every fourth value is a number: the column is used as declared, the rest
        // imputed, and the report says so with the first value that is not one; "when" declared a date and no value is.
        var csv = Rows("size,when,x,y", 80, i => $"{(i % 4 == 0 ? F(i * 0.5) : "big")},{i % 5},{i * 7 % 11},{(i % 2 == 0 ? "a" : "b")}");

        var data = await BuildAsync(csv, new DatasetSpec
        {
            Columns = new() { ["size"] = new ColumnSpec { Type = "numeric" }, ["when"] = new ColumnSpec { Type = "datetime" } },
        });

        Assert.Contains(data.Features, f => f.Name == "size");
        var warning = Assert.Single(data.Report.Warnings, w => w.Code == "declared-type-unread");
        Assert.Equal("dataset.json declares column 'size' as numeric, but only 20 of its 80 values read as one (first that does not: 'big' at line 3); the others were imputed.", warning.Message);
        Assert.Equal("declared 'datetime' in dataset.json, but no value reads as one", data.ExcludedColumns.Single(c => c.Name == "when").Reason);
    }

    [Fact]
    public async Task BuildAsync_FirstFileUnusableBeforeItsFirstRow_DoesNotSetTheSchema()
    {
        // The first file has an old header and no rows: the dataset's columns and target come from the files that are used.
        var good = Rows("x,y,label", 60, i => $"{i * 7 % 13},{i % 5},{(i % 2 == 0 ? "a" : "b")}");

        var data = await BuildAsync([("a-old.csv", Utf8("p,q,r\n")), ("b.csv", Utf8(good))]);

        Assert.Equal("label", data.Target);
        Assert.Equal(["x", "y"], data.Features.Select(f => f.Name));
        Assert.Equal((false, "header-only"), (data.Files[0].Used, data.Files[0].Reason));
        Assert.True(data.Files[1].Used);
        Assert.Equal(60, data.Rows.Used);
    }

    [Fact]
    public async Task BuildAsync_LongUniqueTexts_StopBeingTrackedAtTheCharacterBudget()
    {
        // 200 distinct notes of ~100 characters against a budget of 5,000: tracking stops near 50 values (not at the
        // 10,000-value cap, which would keep long texts whole), and the column is still free text, excluded.
        var csv = Rows("note,x,y", 200, i => $"{i:D4} {new string('w', 95)},{i * 7 % 11},{(i % 2 == 0 ? "a" : "b")}");

        var data = await BuildAsync(csv, options: new PreprocessOptions { MaxTrackedChars = 5_000 });

        var note = data.Report.Columns.Single(c => c.Name == "note");
        Assert.True(note.DistinctIsLowerBound);
        Assert.Equal(5_000 / 100, note.Distinct);
        Assert.StartsWith("free text: more than 50 distinct values", data.ExcludedColumns.Single(c => c.Name == "note").Reason, StringComparison.Ordinal);
        Assert.Equal(["x"], data.Features.Select(f => f.Name));
    }

    [Fact]
    public async Task BuildAsync_MixedColumns_AreTypedAndEncoded()
    {
        string[] colours = ["red", "green", "blue", "amber", "violet"];
        var csv = Rows("id,colour,member,when,note,constant,amount,label", 200, i =>
            $"{i + 1},{colours[i * 7 % 5]},{(i % 3 == 0 ? "yes" : i % 17 == 0 ? "NA" : "no")},2024-{1 + (i % 12):D2}-{1 + (i % 28):D2}T{i % 24:D2}:30:00Z," +
            $"\"free text about row {i}, written by someone\",same,{F(i * 1.5 % 23)},{(i % 2 == 0 ? "up" : "down")}");

        var data = await BuildAsync(csv, new DatasetSpec { MaxCategories = 3 });

        var kinds = data.Report.Columns.ToDictionary(c => c.Name, c => (c.Type, c.Role));
        Assert.Equal((ColumnKinds.Identifier, "excluded"), kinds["id"]);
        Assert.Equal((ColumnKinds.Categorical, "feature"), kinds["colour"]);
        Assert.Equal((ColumnKinds.Boolean, "feature"), kinds["member"]);
        Assert.Equal((ColumnKinds.Datetime, "feature"), kinds["when"]);
        Assert.Equal((ColumnKinds.Text, "excluded"), kinds["note"]);
        Assert.Equal((ColumnKinds.Constant, "excluded"), kinds["constant"]);
        Assert.Equal((ColumnKinds.Numeric, "feature"), kinds["amount"]);
        var colour = data.Encodings.Single(e => e.Column == "colour");
        Assert.Equal(3, colour.Categories.Count);
        Assert.Equal(4, colour.Features.Count);
        Assert.Equal(["month", "day", "dayOfWeek", "hour"], data.Encodings.Single(e => e.Column == "when").Parts);
        Assert.Contains(data.Report.Warnings, w => w.Code == "constant-column");

        // One-hot columns hold exactly one 1 per row.
        var train = data.Split("train");
        var offset = data.Features.FindIndex(f => f.Name.StartsWith("colour=", StringComparison.Ordinal));
        for (var r = 0; r < train.RowCount; r++)
        {
            Assert.Equal(1f, Enumerable.Range(offset, 4).Sum(f => train.Features[f][r]));
        }
    }

    [Fact]
    public async Task BuildAsync_FeatureIdenticalToOrPredictingTheTarget_WarnsOfLeakage()
    {
        var csv = Rows("x,copy,code,label", 100, i => $"{F(i * 7 % 19)},{(i % 2 == 0 ? "cat" : "dog")},{(i % 2 == 0 ? "c1" : "d1")},{(i % 2 == 0 ? "cat" : "dog")}");

        var data = await BuildAsync(csv);

        var leakage = data.Report.Warnings.Where(w => w.Code == "leakage").Select(w => w.Message).ToList();
        Assert.Contains(leakage, m => m.Contains("'copy' is identical", StringComparison.Ordinal));
        Assert.Contains(leakage, m => m.Contains("'code' predicts the target perfectly", StringComparison.Ordinal));
        Assert.DoesNotContain(leakage, m => m.Contains("'x'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BuildAsync_IntegerColumnsWithFewValues_KeepTheirDistinctValuesAndLeakageAcrossBlocks()
    {
        // 40,000 rows span several blocks, so these columns of numbers go through the profiler's own loop for numbers
        // while their distinct values are still tracked: 'code' (50 values, each seen with one class) must still be
        // caught as leakage, 'count' (300 values, seen with both) not, nor 'late' (like 'code' until row 30,000, then
        // each value with the other class), and 'mixed' turns to text near the end.
        var csv = Rows("code,count,late,mixed,label", 40_000, i =>
            $"{i % 50},{(i % 97 == 0 ? "NA" : F(i / 50 % 300))},{(i < 30_000 ? i : i + 1) % 50},{(i == 39_990 ? "many" : F(i % 7))},{(i % 50 % 2 == 0 ? "cat" : "dog")}");

        var data = await BuildAsync(csv);

        var columns = data.Report.Columns.ToDictionary(c => c.Name);
        Assert.Equal((50L, false), (columns["code"].Distinct, columns["code"].DistinctIsLowerBound));
        Assert.Equal((300L, false), (columns["count"].Distinct, columns["count"].DistinctIsLowerBound));
        Assert.Equal(40_000 / 97 + 1, columns["count"].Missing);
        Assert.Equal(8L, columns["mixed"].Distinct);
        var leakage = data.Report.Warnings.Where(w => w.Code == "leakage").Select(w => w.Message).ToList();
        Assert.Contains(leakage, m => m.Contains("'code' predicts the target perfectly (each of its 50 values", StringComparison.Ordinal));
        Assert.DoesNotContain(leakage, m => m.Contains("'count'", StringComparison.Ordinal) || m.Contains("'late'", StringComparison.Ordinal));

        // The codes written in pass 1 decode to the numbers of the file.
        var train = data.Split("train");
        var count = data.Features.FindIndex(f => f.Name == "count");
        Assert.All(train.Features[count], v => Assert.True(v == Math.Floor(v) && v is >= 0 and < 300, $"{v}"));
    }

    [Fact]
    public async Task BuildAsync_CategoriesSharingLengthAndEnds_AreCountedAndEncodedApart()
    {
        // The profiler looks a column's few distinct values up by length, first and last character before the dictionary:
        // 'shape' holds three values alike in all three, taken in turn so each lookup finds another value under that key,
        // and two found under keys of their own; 'tag' passes the 64 values that lookup serves and goes on in the
        // dictionary alone.
        string[] shapes = ["abz", "acz", "adz", "red", "green"];
        var csv = Rows("x,shape,tag,label", 3_000, i => $"{i % 1000 * 7 % 1000},{shapes[i % 1000 * 7 % 1000 % 5]},t{i % 100},{(i % 3 == 0 ? "p" : "q")}");

        var data = await BuildAsync(csv);

        var columns = data.Report.Columns.ToDictionary(c => c.Name);
        Assert.Equal((5L, false), (columns["shape"].Distinct, columns["shape"].DistinctIsLowerBound));
        Assert.Equal((100L, false), (columns["tag"].Distinct, columns["tag"].DistinctIsLowerBound));
        Assert.All(columns["tag"].TopValues!, v => Assert.Equal(30L, v.Count));
        var train = data.Split("train");
        var x = data.Features.FindIndex(f => f.Name == "x");
        Assert.Equal(shapes.Order(), columns["shape"].TopValues!.Select(v => v.Value).Order());
        Assert.All(columns["shape"].TopValues!, v => Assert.Equal(600L, v.Count));

        // Each train row's one-hot 1 is under its own shape (x says which row it was).
        for (var r = 0; r < train.RowCount; r++)
        {
            var shape = shapes[(int)train.Features[x][r] % 5];
            var hot = data.Features.FindIndex(f => f.Name == $"shape={shape}");
            Assert.Equal(1f, train.Features[hot][r]);
        }
    }

    [Fact]
    public async Task BuildAsync_ColumnsPastTheCategoricalLimit_StopTrackingOnlyOnceTheyCannotPredictTheTarget()
    {
        // 3,000 values each, past the categorical limit (1,000) and under the tracking cap (10,000). 'price' sees each of
        // its values with one class only: it could still predict the target perfectly, so it is tracked to the end and
        // flagged. 'amount' and 'note' see values with both classes from the second row on: past 1,000 distinct values
        // they stop being tracked (a lower bound), 'amount' still a numeric feature encoded from its numbers and 'note'
        // still an identifier, as with an exact count.
        var csv = Rows("price,amount,note,label", 12_000, i => $"{F(i % 3000 * 0.25)},{F(i / 2 % 3000 * 0.5)},n{i / 2 % 3000},{(i % 3000 % 2 == 0 ? "cat" : "dog")}");

        var data = await BuildAsync(csv);

        var columns = data.Report.Columns.ToDictionary(c => c.Name);
        Assert.Equal((3000L, false), (columns["price"].Distinct, columns["price"].DistinctIsLowerBound));
        Assert.Contains(data.Report.Warnings, w => w.Code == "leakage" && w.Message.Contains("'price' predicts the target perfectly (each of its 3000 values", StringComparison.Ordinal));
        Assert.Equal((1000L, true), (columns["amount"].Distinct, columns["amount"].DistinctIsLowerBound));
        Assert.Equal(ColumnKinds.Numeric, columns["amount"].Type);
        Assert.Equal((1000L, true), (columns["note"].Distinct, columns["note"].DistinctIsLowerBound));
        Assert.Equal(ColumnKinds.Identifier, columns["note"].Type);
        Assert.DoesNotContain(data.Report.Warnings, w => w.Code == "leakage" && !w.Message.Contains("'price'", StringComparison.Ordinal));

        var amount = data.Features.FindIndex(f => f.Name == "amount");
        Assert.All(data.Split("train").Features[amount], v => Assert.True(v * 2 == Math.Floor(v * 2) && v is >= 0 and <= 1499.5f, $"{v}"));

        // A column dataset.json declares keeps the full cap.
        var declared = await BuildAsync(csv, new DatasetSpec { Columns = new() { ["amount"] = new ColumnSpec { Type = "numeric" } } });
        var declaredAmount = declared.Report.Columns.Single(c => c.Name == "amount");
        Assert.Equal((3000L, false), (declaredAmount.Distinct, declaredAmount.DistinctIsLowerBound));
    }

    [Fact]
    public async Task BuildAsync_RegressionFeatureCorrelatedWithTarget_WarnsOfLeakage()
    {
        var csv = Rows("x,noise,y", 100, i => $"{F(i * 0.5 % 37)},{F(i * 7 % 11)},{F((i * 0.5 % 37 * 2) + 1)}");

        var data = await BuildAsync(csv);

        Assert.Contains(data.Report.Warnings, w => w.Code == "leakage" && w.Message.Contains("'x'", StringComparison.Ordinal));
        Assert.DoesNotContain(data.Report.Warnings, w => w.Code == "leakage" && w.Message.Contains("'noise'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BuildAsync_RareClassAndDuplicateRows_AreWarned()
    {
        var csv = Rows("x,z,label", 400, i => $"{F(i % 50)},{F(i % 7)},{(i % 100 == 0 ? "rare" : "common")}");

        var data = await BuildAsync(csv);

        Assert.Contains(data.Report.Warnings, w => w.Code == "class-imbalance" && w.Message.Contains("'rare'", StringComparison.Ordinal));
        Assert.Contains(data.Report.Warnings, w => w.Code == "duplicate-rows");
        Assert.True(data.Rows.DuplicateRows > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BuildAsync_DuplicateRows_AreCountedExactlyWhetherTheSetIsSizedFromTheFileOrGrows(bool gzip)
    {
        // The duplicate set is sized from the file's bytes over the first block's bytes a row: about right for the CSV,
        // far too small for the gzip file (its bytes are compressed), which the set must then outgrow several times.
        // Rows 80,000 on repeat rows 0 to 39,999; the constant note makes the gzip file ~10x smaller than its text.
        var note = new string('n', 80);
        var csv = Rows("x,y,note,label", 120_000, i =>
        {
            var k = i < 80_000 ? i : i - 80_000;
            return $"{F(k * 0.5)},{F(k % 997)},{note},{(k % 3 == 0 ? "a" : "b")}";
        });
        var bytes = DatasetBuilderHarness.Utf8(csv);

        var data = await BuildAsync([(gzip ? "data.csv.gz" : "data.csv", gzip ? DatasetBuilderHarness.Gzip(bytes) : bytes)]);

        Assert.Equal(40_000, data.Rows.DuplicateRows);
    }

    [Fact]
    public async Task BuildAsync_SeveralFiles_AreOneDatasetAndADisagreeingFileIsSkipped()
    {
        var (day1, _) = SyntheticData.ThreeClass(150, seed: 1);
        var (day2, _) = SyntheticData.ThreeClass(150, seed: 2);
        var reordered = Rows("species,f4,f3,f2,f1,comment", 0, _ => "") + string.Join('\n', day2.Split('\n').Skip(1).Where(l => l.Length > 0)
            .Select(l => l.Split(',')).Select(c => string.Join(',', c[5], c[3], c[2], c[1], c[0], c[4]))) + "\n";
        var other = Rows("a,b", 30, i => $"{i},{i % 2}");

        var data = await BuildAsync([("day1.csv", Utf8(day1)), ("day2.csv", Utf8(reordered)), ("other.csv", Utf8(other))]);

        Assert.Equal(300, data.Rows.Used);
        Assert.Equal([true, true, false], data.Files.Select(f => f.Used));
        Assert.Equal("schema-mismatch", data.Files[2].Reason);
        Assert.Contains(data.Report.Warnings, w => w.Code == "file-skipped" && w.Message.Contains("other.csv", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BuildAsync_FileThatFailsHalfway_IsSkippedAndTheOthersProfiledWithoutIt()
    {
        var (good, _) = SyntheticData.ThreeClass(120, seed: 3);
        var bad = Rows("f1,f2,f3,f4,comment,species", 40, i => i < 10 ? "1,2,3,4,x,alpha" : "1,2");

        var data = await BuildAsync([("good.csv", Utf8(good)), ("bad.csv", Utf8(bad))]);

        Assert.Equal(120, data.Rows.Read);
        Assert.Equal("ragged-rows", data.Files[1].Reason);
        Assert.Equal(120, data.Report.Columns.Single(c => c.Name == "f1").Present + data.Report.Columns.Single(c => c.Name == "f1").Missing);
    }

    [Fact]
    public async Task BuildAsync_Report_RendersAReadableSummary()
    {
        var (csv, _) = SyntheticData.ThreeClass(200, seed: 9);

        var data = await BuildAsync(csv);
        var summary = ReportSummary.ToMarkdown(data.Report);

        Assert.Contains("| f1 | numeric | feature |", summary, StringComparison.Ordinal);
        Assert.Contains("| species | categorical | target |", summary, StringComparison.Ordinal);
        Assert.Contains("## Files", summary, StringComparison.Ordinal);
    }
}
