using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>
/// The function app as it is deployed: the Native AOT executable that <c>dotnet publish</c> produces (scripts/test.sh
/// publishes it before the tests), started the way the Functions host starts a custom handler. Each file is preprocessed
/// by it and by the in-memory (JIT) app, and the two datasets must be the same: features, encodings, statistics, rows,
/// report columns. The Parquet file has every column type the reader supports that Parquet.Net writes, nullable and not,
/// since Parquet.Net's own AOT warnings are about exactly that type handling.
/// </summary>
public sealed class PreprocessAotTests : IAsyncLifetime
{
    private static readonly string[] AppSources = ["functions/Pipeline.Functions", "core/Pipeline.Core"];
    private readonly FunctionsAppFactory _jit = new();
    private Process? _aot;
    private HttpClient _aotClient = null!;
    private HttpClient _jitClient = null!;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);
        var executable = PublishedExecutable();
        var port = FreePort();
        var start = new ProcessStartInfo(executable) { WorkingDirectory = Path.GetDirectoryName(executable)!, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Storage__ConnectionString"] = Azurite.ConnectionString;
        start.Environment["Preprocess__QuietPeriod"] = "00:00:00";
        _aot = Process.Start(start)!;
        _aot.OutputDataReceived += (_, _) => { };
        _aot.ErrorDataReceived += (_, _) => { };
        _aot.BeginOutputReadLine();
        _aot.BeginErrorReadLine();
        _aotClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var ready = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await _aotClient.GetAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException) when (ready.Elapsed < TimeSpan.FromSeconds(20) && !_aot.HasExited)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
        }

        _jitClient = _jit.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        _aotClient.Dispose();
        _jitClient.Dispose();
        if (_aot is { HasExited: false })
        {
            _aot.Kill();
            await _aot.WaitForExitAsync();
        }

        _aot?.Dispose();
        await _jit.DisposeAsync();
    }

    [Theory]
    [InlineData("data.csv")]
    [InlineData("data.csv.gz")]
    [InlineData("data.jsonl.gz")]
    [InlineData("data.parquet")]
    public async Task PublishedExecutable_BuildsTheSameDatasetAsTheJitApp(string file)
    {
        var content = file switch
        {
            "data.csv" => Encoding.UTF8.GetBytes(Csv()),
            "data.csv.gz" => Gzip(Encoding.UTF8.GetBytes(Csv().Replace("oslo", "\"oslo, north\"", StringComparison.Ordinal))),
            "data.jsonl.gz" => Gzip(Encoding.UTF8.GetBytes(JsonLines())),
            _ => await ParquetOfEveryTypeAsync(),
        };

        var aot = await PreprocessAsync(_aotClient, "aot", file, content);
        var jit = await PreprocessAsync(_jitClient, "jit", file, content);

        foreach (var part in new[] { "features", "encodings", "labels", "rows", "task", "target" })
        {
            Assert.True(JsonNode.DeepEquals(jit.Manifest[part], aot.Manifest[part]), $"{part}: JIT {jit.Manifest[part]?.ToJsonString()} vs AOT {aot.Manifest[part]?.ToJsonString()}");
        }

        Assert.True(JsonNode.DeepEquals(jit.Report["columns"], aot.Report["columns"]), $"report columns: JIT {jit.Report["columns"]?.ToJsonString()} vs AOT {aot.Report["columns"]?.ToJsonString()}");
        Assert.Equal("accepted", aot.Report["status"]!.GetValue<string>());
        Assert.True(aot.Manifest["features"]!.AsArray().Count >= 5);
    }

    private static async Task<(JsonNode Manifest, JsonNode Report)> PreprocessAsync(HttpClient client, string prefix, string file, byte[] content)
    {
        var dataset = Azurite.UniqueName(prefix);
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer)
            .UploadBlobAsync($"{dataset}/{file}", BinaryData.FromBytes(content), TestContext.Current.CancellationToken);
        var reply = await Invocations.PreprocessAsync(client, $"{dataset}/{file}");
        var request = reply["Outputs"]!["trainRequest"] ?? throw new InvalidOperationException($"No train request: {reply.ToJsonString()}");
        var version = request["datasetVersion"]!.GetValue<string>();
        var datasets = Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer);
        var manifest = JsonNode.Parse((await datasets.GetBlobClient(StorageNames.DatasetManifestPath(dataset, version)).DownloadContentAsync(TestContext.Current.CancellationToken)).Value.Content.ToString())!;
        var report = JsonNode.Parse((await datasets.GetBlobClient($"{dataset}/{version}/report.json").DownloadContentAsync(TestContext.Current.CancellationToken)).Value.Content.ToString())!;
        return (manifest, report);
    }

    private static string Csv()
    {
        var text = new StringBuilder("amount,count,city,active,signup,label\n");
        for (var i = 0; i < 300; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"{(i * 7.31 % 100) - 50:F2},{(i % 13 == 0 ? "" : (i % 9).ToString(System.Globalization.CultureInfo.InvariantCulture))},{(i % 3 == 0 ? "oslo" : i % 3 == 1 ? "rome" : "lima")},{(i % 2 == 0 ? "yes" : "no")},2024-{1 + (i % 12):D2}-{1 + (i % 28):D2}T{i % 24:D2}:00:00,{(i % 4 < 2 ? "a" : "b")}\n");
        }

        return text.ToString();
    }

    private static string JsonLines()
    {
        var text = new StringBuilder();
        for (var i = 0; i < 300; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"{{\"amount\":{(i * 7.31 % 100) - 50:F2},\"flag\":{(i % 2 == 0 ? "true" : "false")},\"city\":\"{(i % 3 == 0 ? "oslo" : "rome")}\",\"missing\":{(i % 5 == 0 ? "null" : "1.5")},\"label\":\"{(i % 4 < 2 ? "a" : "b")}\"}}\n");
        }

        return text.ToString();
    }

    private static async Task<byte[]> ParquetOfEveryTypeAsync()
    {
        const int Rows = 300;
        static T? Sometimes<T>(int i, T value) where T : struct => i % 11 == 0 ? null : value;
        var fields = new DataField[]
        {
            new DataField<double>("d"), new DataField<float?>("f"), new DataField<decimal?>("m"), new DataField<int?>("i"),
            new DataField<long>("l"), new DataField<short?>("s"), new DataField<byte>("b"), new DataField<sbyte?>("sb"),
            new DataField<uint?>("ui"), new DataField<ulong>("ul"), new DataField<bool?>("flag"), new DataField<DateTime?>("when"),
            new DataField<DateOnly>("day"), new DataField<string>("city"), new DataField<string>("label"),
        };
        using var buffer = new MemoryStream();
        var ct = TestContext.Current.CancellationToken;
        var time = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), buffer, cancellationToken: ct))
        {
            using var group = writer.CreateRowGroup();
            var rows = Enumerable.Range(0, Rows).ToArray();
            await group.WriteAsync<double>(fields[0], rows.Select(i => (i * 0.37 % 5) - 2).ToArray(), cancellationToken: ct);
            await group.WriteAsync<float>(fields[1], rows.Select(i => Sometimes(i, (float)(i % 17) / 4)).ToArray(), cancellationToken: ct);
            await group.WriteAsync<decimal>(fields[2], rows.Select(i => Sometimes(i, (decimal)(i % 23) / 8)).ToArray(), cancellationToken: ct);
            await group.WriteAsync<int>(fields[3], rows.Select(i => Sometimes(i, i * 13 % 7)).ToArray(), cancellationToken: ct);
            await group.WriteAsync<long>(fields[4], rows.Select(i => (long)i * 1_000_003 % 97).ToArray(), cancellationToken: ct);
            await group.WriteAsync<short>(fields[5], rows.Select(i => Sometimes(i, (short)(i % 31))).ToArray(), cancellationToken: ct);
            await group.WriteAsync<byte>(fields[6], rows.Select(i => (byte)(i % 7)).ToArray(), cancellationToken: ct);
            await group.WriteAsync<sbyte>(fields[7], rows.Select(i => Sometimes(i, (sbyte)((i % 9) - 4))).ToArray(), cancellationToken: ct);
            await group.WriteAsync<uint>(fields[8], rows.Select(i => Sometimes(i, (uint)(i % 19))).ToArray(), cancellationToken: ct);
            await group.WriteAsync<ulong>(fields[9], rows.Select(i => (ulong)(i % 29)).ToArray(), cancellationToken: ct);
            await group.WriteAsync<bool>(fields[10], rows.Select(i => Sometimes(i, i % 3 == 0)).ToArray(), cancellationToken: ct);
            await group.WriteAsync<DateTime>(fields[11], rows.Select(i => Sometimes(i, time.AddHours(i * 7))).ToArray(), cancellationToken: ct);
            await group.WriteAsync<DateOnly>(fields[12], rows.Select(i => DateOnly.FromDateTime(time.AddDays(i * 3))).ToArray(), cancellationToken: ct);
            await group.WriteAsync(fields[13], rows.Select(i => i % 13 == 0 ? null : i % 3 == 0 ? "paris" : "rome").ToArray());
            await group.WriteAsync(fields[14], rows.Select(i => (string?)(i % 4 < 2 ? "yes" : "no")).ToArray());
        }

        return buffer.ToArray();
    }

    private static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(content);
        }

        return output.ToArray();
    }

    /// <summary>The published executable, which must be newer than every source file of the app (else it is stale).</summary>
    private static string PublishedExecutable()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Serverless.sln")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var executable = Path.Combine(root.FullName, "artifacts", "publish", "Pipeline.Functions", "release_linux-x64", "Pipeline.Functions");
        Assert.True(File.Exists(executable),
            $"No published function app at {executable}: run scripts/test.sh, which publishes it first (dotnet publish functions/Pipeline.Functions -c Release).");
        var sources = AppSources
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(root.FullName, folder), "*.*", SearchOption.AllDirectories))
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal) || f.EndsWith(".proto", StringComparison.Ordinal))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        var newest = sources.Max(File.GetLastWriteTimeUtc);
        Assert.True(File.GetLastWriteTimeUtc(executable) >= newest,
            $"The published function app at {executable} is older than its sources: publish it again (scripts/test.sh does).");
        return executable;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
