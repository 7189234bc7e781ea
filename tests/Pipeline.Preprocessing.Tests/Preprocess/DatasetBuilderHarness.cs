using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Preprocessing;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>Runs <see cref="DatasetBuilder"/> on in-memory files written to a temp folder, and reads its Parquet splits back.</summary>
internal static class DatasetBuilderHarness
{
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static byte[] Gzip(byte[] bytes) => Infrastructure.SyntheticData.Gzip(bytes);

    public static Task<PreparedDataset> BuildAsync(string csv, DatasetSpec? spec = null, PreprocessOptions? options = null) =>
        BuildAsync([("data.csv", Utf8(csv))], spec, options);

    public static async Task<PreparedDataset> BuildAsync(IReadOnlyList<(string Name, byte[] Bytes)> files, DatasetSpec? spec = null, PreprocessOptions? options = null)
    {
        using var folder = new TempDirectory();
        var data = files.Select((f, i) =>
        {
            var path = folder.File($"{i:D4}-{f.Name}");
            File.WriteAllBytes(path, f.Bytes);
            return new DataFile($"raw/test/{f.Name}", path, Convert.ToHexStringLower(SHA256.HashData(f.Bytes)), f.Bytes.Length);
        }).ToList();
        var prepared = await new DatasetBuilder(options ?? new PreprocessOptions()).BuildAsync(data, spec, folder.File("out"), TestContext.Current.CancellationToken);

        // The splits live in the temp folder: read them before it goes.
        var splits = new Dictionary<string, (DatasetSplit, int[])>();
        foreach (var (name, path) in prepared.SplitFiles)
        {
            await using var stream = File.OpenRead(path);
            var split = await DatasetParquet.ReadAsync(stream, prepared.Features.Select(f => f.Name).ToList(), TestContext.Current.CancellationToken);
            stream.Position = 0;
            await using var reader = await Parquet.ParquetReader.CreateAsync(stream, cancellationToken: TestContext.Current.CancellationToken);
            var rowGroups = Enumerable.Range(0, reader.RowGroupCount).Select(g => (int)reader.RowGroups[g].RowCount).ToArray();
            // One-hot categories and booleans (only ever 0 or 1) are Parquet booleans, every other feature a float.
            var binary = prepared.Encodings.SelectMany(e => e.Features.Select(_ => e.Kind is ColumnKinds.Boolean or ColumnKinds.Categorical));
            Assert.Equal(binary.Select(b => b ? typeof(bool) : typeof(float)).Append(typeof(float)), reader.Schema.GetDataFields().Select(f => f.ClrType));
            splits[name] = (split, rowGroups);
        }

        Splits.AddOrUpdate(prepared, splits);
        return prepared;
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<PreparedDataset, Dictionary<string, (DatasetSplit Rows, int[] RowGroups)>> Splits = [];

    /// <summary>The split's rows as written to Parquet.</summary>
    public static DatasetSplit Split(this PreparedDataset dataset, string name) => Splits.TryGetValue(dataset, out var splits) ? splits[name].Rows : throw new InvalidOperationException();

    /// <summary>The row count of each row group of the split's Parquet file.</summary>
    public static int[] RowGroups(this PreparedDataset dataset, string name) => Splits.TryGetValue(dataset, out var splits) ? splits[name].RowGroups : throw new InvalidOperationException();

    public static async Task<DatasetRejectedException> RejectAsync(IReadOnlyList<(string Name, byte[] Bytes)> files, DatasetSpec? spec = null) =>
        await Assert.ThrowsAsync<DatasetRejectedException>(() => BuildAsync(files, spec));

    public static Task<DatasetRejectedException> RejectAsync(byte[] csv, string name = "data.csv") => RejectAsync([(name, csv)]);
}
