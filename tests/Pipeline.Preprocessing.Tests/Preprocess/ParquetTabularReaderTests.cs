using System.Buffers.Binary;
using System.Globalization;
using Parquet;
using Parquet.Schema;
using Pipeline.Preprocessing;
using Pipeline.Preprocessing.Formats;
using Pipeline.Tests.Infrastructure;
using static Pipeline.Tests.Functions.Preprocess.DatasetBuilderHarness;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>Uploaded Parquet: typed columns read as the same invariant text as before, and footers that lie about sizes.</summary>
public sealed class ParquetTabularReaderTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    private string Save(byte[] bytes, string name = "data.parquet")
    {
        var path = Path.Combine(_folder.Path, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static async Task<byte[]> WriteAsync(int rows, Func<ParquetRowGroupWriter, DataField[], Task> write, params DataField[] fields)
    {
        using var buffer = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), buffer, cancellationToken: Cancellation))
        {
            using var group = writer.CreateRowGroup();
            await write(group, fields);
        }

        return buffer.ToArray();
    }

    private static List<string[]> ReadAll(TabularReader reader)
    {
        var rows = new List<string[]>();
        var block = new RowBlock();
        while (reader.ReadBlock(block, Cancellation))
        {
            for (var r = 0; r < block.Count; r++)
            {
                rows.Add(Enumerable.Range(0, block.FieldCount(r)).Select(f => block.Field(r, f).ToString()).ToArray());
            }
        }

        return rows;
    }

    [Fact]
    public async Task Read_TypedColumns_AreInvariantText_AndMissingValuesEmpty()
    {
        var time = new DateTime(2024, 2, 29, 13, 45, 7, DateTimeKind.Unspecified); // Parquet timestamps come back without a kind
        var bytes = await WriteAsync(3, async (group, f) =>
        {
            await group.WriteAsync<double>(f[0], new double[] { 0.1, -1e300, double.Epsilon }, cancellationToken: Cancellation);
            await group.WriteAsync<int>(f[1], new int?[] { 7, null, int.MinValue }, cancellationToken: Cancellation);
            await group.WriteAsync<bool>(f[2], new bool?[] { true, false, null }, cancellationToken: Cancellation);
            await group.WriteAsync<DateTime>(f[3], new DateTime[] { time, time.AddDays(1), time.AddYears(-30) }, cancellationToken: Cancellation);
            await group.WriteAsync<decimal>(f[4], new decimal[] { 1.25m, -123456789.987654321m, 0m }, cancellationToken: Cancellation);
            await group.WriteAsync(f[5], new string?[] { "oslo", null, "" });
            await group.WriteAsync<float>(f[6], new float?[] { 1.5f, null, float.MaxValue }, cancellationToken: Cancellation);
        }, new DataField<double>("d"), new DataField<int?>("n"), new DataField<bool?>("b"), new DataField<DateTime>("t"), new DataField<decimal>("m"), new DataField<string>("s"), new DataField<float?>("f"));

        using var reader = await TabularReader.OpenAsync(Save(bytes), "data.parquet", Cancellation);
        var rows = ReadAll(reader);

        string Invariant(IFormattable value, string? format = null) => value.ToString(format, CultureInfo.InvariantCulture);
        Assert.Equal(["0.1", "7", "true", Invariant(time, "O"), "1.25", "oslo", "1.5"], rows[0]);
        Assert.Equal([Invariant(-1e300, "R"), "", "false", Invariant(time.AddDays(1), "O"), "-123456789.987654321", "", ""], rows[1]);
        Assert.Equal([Invariant(double.Epsilon, "R"), Invariant(int.MinValue), "", Invariant(time.AddYears(-30), "O"), "0", "", Invariant(float.MaxValue, "R")], rows[2]);
    }

    [Fact]
    public async Task Read_RowGroupPastTheMemoryLimit_IsRejectedNamingIt_AndReadUnderTheDefault()
    {
        const int rows = 1_200_000; // 2 nullable doubles: 16 bytes a cell, ~37 MB in memory
        var bytes = await WriteAsync(rows, async (group, f) =>
        {
            var values = Enumerable.Range(0, rows).Select(i => (double?)(i % 1000)).ToArray();
            await group.WriteAsync<double>(f[0], values, cancellationToken: Cancellation);
            await group.WriteAsync<double>(f[1], values, cancellationToken: Cancellation);
        }, new DataField<double?>("a"), new DataField<double?>("b"));
        var path = Save(bytes);

        using var limited = await TabularReader.OpenAsync(path, "data.parquet", Cancellation, maxParquetRowGroupBytes: 16L << 20);
        var rejection = Assert.Throws<DatasetRejectedException>(() => limited.ReadBlock(new RowBlock(), Cancellation));
        using var defaults = await TabularReader.OpenAsync(path, "data.parquet", Cancellation);

        Assert.Equal("parquet-row-group-too-large", rejection.Reason);
        Assert.Contains("claims 1200000 rows", rejection.Message, StringComparison.Ordinal);
        Assert.Contains("Preprocess:MaxParquetRowGroupBytes", rejection.Message, StringComparison.Ordinal);
        Assert.Equal(rows, ReadAll(defaults).Count);
    }

    /// <summary>
    /// A footer that claims two billion rows for a 777-row file (the file's own footer with its row counts rewritten):
    /// rejected from the footer alone, before any row is allocated, in the builder as in the reader.
    /// </summary>
    [Fact]
    public async Task Build_FooterClaimingBillionsOfRows_IsRejectedBeforeAllocating()
    {
        var bytes = await WriteAsync(777, async (group, f) =>
        {
            await group.WriteAsync<double>(f[0], Enumerable.Range(0, 777).Select(i => (double)i).ToArray(), cancellationToken: Cancellation);
            await group.WriteAsync<double>(f[1], Enumerable.Range(0, 777).Select(i => (double)(i % 7)).ToArray(), cancellationToken: Cancellation);
        }, new DataField<double>("x"), new DataField<double>("y"));
        var (forged, rewritten) = HostileFile.ClaimRows(bytes, 777, 2_000_000_000);

        var rejection = await RejectAsync([("claims.parquet", forged)]);

        Assert.Equal(4, rewritten); // the file's and the group's row counts, and both columns' value counts
        Assert.Equal("parquet-row-group-too-large", rejection.Reason);
        Assert.Contains("claims 2000000000 rows", rejection.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x7FFF_FFFFu)] // past the limit and the file
    [InlineData(0u)] // an empty footer
    public async Task Open_FooterLengthThatCannotBe_IsMalformed(uint claimed)
    {
        var bytes = await WriteAsync(10, async (group, f) =>
            await group.WriteAsync<double>(f[0], new double[10], cancellationToken: Cancellation), new DataField<double>("x"));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 8), claimed);

        var rejection = await Assert.ThrowsAsync<DatasetRejectedException>(() => TabularReader.OpenAsync(Save(bytes), "data.parquet", Cancellation));

        Assert.Equal("malformed-parquet", rejection.Reason);
    }

    /// <summary>
    /// The file the 10,000-file hostile run stopped at: a mutated gzip-wrapped Parquet file whose footer declares more
    /// elements than it holds, which the Parquet reader would skip through for ever. Refused from the footer, at once.
    /// </summary>
    [Fact]
    public async Task Build_FooterDeclaringMoreThanItHolds_IsMalformed_NotAnEndlessRead()
    {
        var (name, bytes) = HostileFile.Generate(2650);
        var build = Task.Run(() => RejectAsync([(name, bytes)]), Cancellation);

        var finished = await Task.WhenAny(build, Task.Delay(TimeSpan.FromSeconds(60), Cancellation));

        Assert.True(finished == build, "no result after 60 s");
        var rejection = await build;
        Assert.Equal("malformed-parquet", rejection.Reason);
        Assert.Contains("footer is corrupt", rejection.Message, StringComparison.Ordinal);
    }
}
