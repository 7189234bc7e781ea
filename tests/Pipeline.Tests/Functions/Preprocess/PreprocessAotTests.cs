using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;
using static Pipeline.Tests.Functions.Preprocess.DatasetBuilderHarness;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>
/// The function app as it is deployed: the Native AOT executable that <c>dotnet publish</c> produces (scripts/test.sh
/// publishes it before the tests), started the way the Functions host starts a custom handler. Each file is preprocessed
/// by it and by the in-memory (JIT) app, and the two datasets must be the same: the manifests (but for names and times),
/// the reports and the Parquet splits byte for byte. The Parquet file has every column type the reader supports that
/// Parquet.Net writes, each nullable and not, since Parquet.Net's own AOT warnings are about exactly that type handling;
/// the CSV is long enough for several blocks and, with a low distinct cap, for the numbers' own loop.
/// </summary>
public sealed class PreprocessAotTests : IAsyncLifetime
{
    private static readonly string[] AppSources = ["functions/Pipeline.Functions", "core", "build"];
    private static readonly string[] BuildFiles = ["Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", "host.json"];
    private static readonly string[] NamesAndTimes = ["dataset", "version", "createdAt", "model", "sources", "splits", "report", "summary"];
    private static readonly string[] Splits = ["train", "validation", "test"];

    /// <summary>Both apps track 100 distinct values per column, so the numbers' own loop and its statistics run.</summary>
    private const string MaxTrackedDistinct = "100";

    private readonly FunctionsAppFactory _jit = new(new Dictionary<string, string> { ["Preprocess:MaxTrackedDistinct"] = MaxTrackedDistinct });
    private readonly StringBuilder _aotOutput = new();
    private Process? _aot;
    private HttpClient? _aotClient;
    private HttpClient? _jitClient;

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
        start.Environment["Preprocess__MaxTrackedDistinct"] = MaxTrackedDistinct;
        _aot = Process.Start(start)!;
        _aot.OutputDataReceived += (_, e) => Record(e.Data);
        _aot.ErrorDataReceived += (_, e) => Record(e.Data);
        _aot.BeginOutputReadLine();
        _aot.BeginErrorReadLine();
        _aotClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var ready = Stopwatch.StartNew();
        while (!await AnswersAsync(_aotClient))
        {
            if (_aot.HasExited)
            {
                Assert.Fail($"The published function app exited ({_aot.ExitCode}) before answering:\n{Output()}");
            }

            Assert.True(ready.Elapsed < TimeSpan.FromSeconds(20), $"The published function app did not answer GET / within 20 s:\n{Output()}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        _jitClient = _jit.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        if (_aot is { HasExited: false })
        {
            _aot.Kill();
            await _aot.WaitForExitAsync();
        }

        _aot?.Dispose();
        _aotClient?.Dispose();
        _jitClient?.Dispose();
        await _jit.DisposeAsync();
    }

    private static async Task<bool> AnswersAsync(HttpClient client)
    {
        try
        {
            using var response = await client.GetAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private void Record(string? line)
    {
        if (line is not null)
        {
            lock (_aotOutput)
            {
                _aotOutput.AppendLine(line);
            }
        }
    }

    private string Output()
    {
        lock (_aotOutput)
        {
            return _aotOutput.ToString();
        }
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

        var aot = await PreprocessAsync(_aotClient!, "aot", file, content);
        var jit = await PreprocessAsync(_jitClient!, "jit", file, content);

        Assert.True(JsonNode.DeepEquals(jit.Manifest, aot.Manifest), $"manifest:\nJIT {jit.Manifest.ToJsonString()}\nAOT {aot.Manifest.ToJsonString()}\n{Output()}");
        Assert.True(JsonNode.DeepEquals(jit.Report, aot.Report), $"report:\nJIT {jit.Report.ToJsonString()}\nAOT {aot.Report.ToJsonString()}");
        foreach (var split in Splits)
        {
            Assert.True(jit.Splits[split].AsSpan().SequenceEqual(aot.Splits[split]), $"{split}.parquet differs ({jit.Splits[split].Length} vs {aot.Splits[split].Length} bytes)");
        }

        Assert.Equal("accepted", aot.Report["status"]!.GetValue<string>());
        Assert.True(aot.Manifest["features"]!.AsArray().Count >= 5);
    }

    /// <summary>Preprocesses the file as a dataset of its own; returns its manifest and report (dataset name, version and times taken out) and splits.</summary>
    private static async Task<(JsonNode Manifest, JsonNode Report, Dictionary<string, byte[]> Splits)> PreprocessAsync(HttpClient client, string prefix, string file, byte[] content)
    {
        var ct = TestContext.Current.CancellationToken;
        var dataset = Azurite.UniqueName(prefix);
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).UploadBlobAsync($"{dataset}/{file}", BinaryData.FromBytes(content), ct);
        var reply = await Invocations.PreprocessAsync(client, $"{dataset}/{file}");
        var request = reply["Outputs"]!["trainRequest"] ?? throw new InvalidOperationException($"No train request: {reply.ToJsonString()}");
        var version = request["datasetVersion"]!.GetValue<string>();
        var datasets = Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer);
        async Task<JsonObject> JsonAsync(string blob)
        {
            var text = (await datasets.GetBlobClient(blob).DownloadContentAsync(ct)).Value.Content.ToString().Replace(dataset, "{dataset}", StringComparison.Ordinal);
            var json = JsonNode.Parse(text)!.AsObject();
            foreach (var name in NamesAndTimes)
            {
                json.Remove(name);
            }

            return json;
        }

        var splits = new Dictionary<string, byte[]>();
        foreach (var split in Splits)
        {
            splits[split] = (await datasets.GetBlobClient($"{dataset}/{version}/{split}.parquet").DownloadContentAsync(ct)).Value.Content.ToArray();
        }

        return (await JsonAsync(StorageNames.DatasetManifestPath(dataset, version)), await JsonAsync($"{dataset}/{version}/report.json"), splits);
    }

    private static string Csv()
    {
        // 30,000 rows: several blocks, and numbers well past the distinct cap.
        var text = new StringBuilder("amount,count,city,active,signup,label\n");
        for (var i = 0; i < 30_000; i++)
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
        var rows = Enumerable.Range(0, Rows).ToArray();
        var time = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var fields = new List<DataField>();
        var writes = new List<Func<ParquetRowGroupWriter, CancellationToken, Task>>();

        // Each type twice: required, and optional with a missing value in every 11th row.
        void Both<T>(string name, Func<int, T> value) where T : struct
        {
            var plain = new DataField<T>(name);
            var optional = new DataField<T?>(name + "_n");
            fields.Add(plain);
            fields.Add(optional);
            writes.Add((group, ct) => group.WriteAsync<T>(plain, rows.Select(value).ToArray(), cancellationToken: ct));
            writes.Add((group, ct) => group.WriteAsync<T>(optional, rows.Select(i => i % 11 == 0 ? (T?)null : value(i)).ToArray(), cancellationToken: ct));
        }

        Both("d", i => (i * 0.37 % 5) - 2);
        Both("f", i => (float)(i % 17) / 4);
        Both("m", i => (decimal)(i % 23) / 8);
        Both("i", i => i * 13 % 7);
        Both("l", i => (long)i * 1_000_003 % 97);
        Both("s", i => (short)(i % 31));
        Both("b", i => (byte)(i % 7));
        Both("sb", i => (sbyte)((i % 9) - 4));
        Both("ui", i => (uint)(i % 19));
        Both("ul", i => (ulong)(i % 29));
        Both("flag", i => i % 3 == 0);
        Both("when", i => time.AddHours(i * 7));
        Both("day", i => DateOnly.FromDateTime(time.AddDays(i * 3)));
        var city = new DataField<string>("city");
        var label = new DataField<string>("label");
        fields.Add(city);
        fields.Add(label);
        writes.Add((group, _) => group.WriteAsync(city, rows.Select(i => i % 13 == 0 ? null : i % 3 == 0 ? "paris" : "rome").ToArray()));
        writes.Add((group, _) => group.WriteAsync(label, rows.Select(i => (string?)(i % 4 < 2 ? "yes" : "no")).ToArray()));

        using var buffer = new MemoryStream();
        var cancellation = TestContext.Current.CancellationToken;
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields.ToArray()), buffer, cancellationToken: cancellation))
        {
            using var group = writer.CreateRowGroup();
            foreach (var write in writes)
            {
                await write(group, cancellation);
            }
        }

        return buffer.ToArray();
    }

    /// <summary>The published executable, which must be newer than every source and build file of the app (else it is stale).</summary>
    private static string PublishedExecutable()
    {
        var root = Repository.Root();
        var executable = Path.Combine(root, "artifacts", "publish", "Pipeline.Functions", "release_linux-x64", "Pipeline.Functions");
        Assert.True(File.Exists(executable),
            $"No published function app at {executable}: run scripts/test.sh, which publishes it first (dotnet publish functions/Pipeline.Functions -c Release).");
        var sources = AppSources
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(root, folder), "*.*", SearchOption.AllDirectories))
            .Where(f => Path.GetExtension(f) is ".cs" or ".csproj" or ".proto" or ".targets" or ".props" or ".json")
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Concat(BuildFiles.Select(f => Path.Combine(root, f)));
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
