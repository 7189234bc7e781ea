using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Telemetry;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Score;

/// <summary>
/// The Score function, called as the worker calls it, against Azurite: files dropped under <c>score/{model}/</c> become
/// <c>predictions/{model}/…</c> with a report, and every prediction equals the serving app's for the same row.
/// </summary>
public sealed class ScoreFunctionTests : IAsyncLifetime
{
    private static readonly string[] Header = ["id", "size", "color", "member", "label"];

    /// <summary>Rows with an unknown category (green), missing values in every form, and two rows that cannot be scored.</summary>
    private static readonly string[][] Rows =
    [
        ["1", "3.5", "red", "true", "yes"],
        ["2", "0", "blue", "false", "no"],
        ["3", "12", "green", "yes", "yes"],
        ["4", "", "", "", "no"],
        ["5", "NA", "red", "null", "yes"],
        ["6", "abc", "red", "true", "no"],
        ["7", "-2.25", "blue", "maybe", "no"],
        ["8", "1e1", "blue", "0", "yes"],
    ];

    private readonly PreprocessingApp _app;
    private readonly string _model = Azurite.UniqueName("score");

    public ScoreFunctionTests() => _app = new PreprocessingApp();

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer).CreateIfNotExistsAsync(cancellationToken: Cancellation);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task RunAsync_Csv_WritesEveryScorableRowInOrderWithTheServingAppsPrediction()
    {
        await TestModels.PublishEncodedAsync(_model, "v1");

        var report = await ScoreAsync(_app, $"{_model}/batch/day1.csv", Csv(Rows));

        Assert.Equal(ScoringStatus.Succeeded, report.Status);
        Assert.Equal("v1", report.Version);
        Assert.Equal(($"predictions/{_model}/batch/day1.csv", "csv", "csv"), (report.Output, report.Format, report.OutputFormat));
        Assert.Equal((8L, 6L, 2L), (report.Rows, report.Scored, report.Failed));
        // CSV lines: the header is line 1, row "6" is line 7.
        Assert.Equal([7L, 8L], report.BadRows.Select(b => b.Line));
        Assert.Equal("column 'size' is numeric; 'abc' does not read as one", report.BadRows[0].Reason);
        Assert.Equal("column 'member' is boolean; 'maybe' does not read as one", report.BadRows[1].Reason);

        var lines = (await DownloadTextAsync(report.Output!)).TrimEnd('\n').Split('\n');
        Assert.Equal("id,size,color,member,label,prediction,probability_no,probability_yes", lines[0]);
        var output = lines.Skip(1).Select(l => l.Split(',')).ToList();
        string[] scored = ["1", "2", "3", "4", "5", "8"];
        Assert.Equal(scored, output.Select(r => r[0]));
        Assert.Equal(Rows.Where(r => scored.Contains(r[0])).Select(r => string.Join(',', r)), output.Select(r => string.Join(',', r[..5])));
        await AssertEqualsServingAsync(_model, null, Rows.Where(r => scored.Contains(r[0])).ToList(), output.Select(r => (r[5], Floats(r[6..]))).ToList());
    }

    public static TheoryData<string, string, string> Formats() => new()
    {
        { "rows.jsonl", "jsonl", "rows.jsonl" },
        { "rows.jsonl.gz", "jsonl+gzip", "rows.jsonl.gz" },
        { "rows.csv.gz", "csv+gzip", "rows.csv.gz" },
        { "rows.tsv", "csv", "rows.tsv" },
        { "rows.parquet", "parquet", "rows.parquet" },
        { "rows.parquet.gz", "parquet", "rows.parquet" },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task RunAsync_EveryFormat_WritesTheSamePredictionsInTheInputsFormat(string name, string outputFormat, string outputName)
    {
        await TestModels.PublishEncodedAsync(_model, "v1");
        var content = name switch
        {
            _ when name.StartsWith("rows.jsonl", StringComparison.Ordinal) => JsonLines(Rows),
            _ when name.StartsWith("rows.parquet", StringComparison.Ordinal) => await ParquetAsync(Rows),
            "rows.tsv" => Encoding.UTF8.GetBytes(Csv(Rows).Replace(',', '\t')),
            _ => Encoding.UTF8.GetBytes(Csv(Rows)),
        };
        if (name.EndsWith(".gz", StringComparison.Ordinal))
        {
            content = Gzip(content);
        }

        var report = await ScoreAsync(_app, $"{_model}/{name}", content);

        Assert.Equal(ScoringStatus.Succeeded, report.Status);
        Assert.Equal(outputFormat, report.OutputFormat);
        Assert.Equal($"predictions/{_model}/{outputName}", report.Output);
        Assert.Equal((8L, 6L, 2L), (report.Rows, report.Scored, report.Failed));
        var rows = await ReadOutputAsync(report.Output!, outputFormat);
        Assert.Equal(["1", "2", "3", "4", "5", "8"], rows.Select(r => r.Id));
        await AssertEqualsServingAsync(_model, null, Rows.Where(r => rows.Any(o => o.Id == r[0])).ToList(), rows.Select(r => (r.Label, r.Probabilities)).ToList());
    }

    [Fact]
    public async Task RunAsync_OutputFormatParquet_WritesParquetForACsvInput()
    {
        await using var app = new PreprocessingApp(new Dictionary<string, string> { ["Scoring:OutputFormat"] = "Parquet" });
        await TestModels.PublishEncodedAsync(_model, "v1");

        var report = await ScoreAsync(app, $"{_model}/day.csv", Csv(Rows));

        Assert.Equal(($"predictions/{_model}/day.parquet", "parquet"), (report.Output, report.OutputFormat));
        var rows = await ReadOutputAsync(report.Output!, "parquet");
        Assert.Equal(6, rows.Count);
        await AssertEqualsServingAsync(_model, null, Rows.Where(r => rows.Any(o => o.Id == r[0])).ToList(), rows.Select(r => (r.Label, r.Probabilities)).ToList());
    }

    [Fact]
    public async Task RunAsync_VersionInThePath_ScoresWithThatVersionNotTheCurrentOne()
    {
        await TestModels.PublishEncodedAsync(_model, "v1");
        await TestModels.PublishEncodedAsync(_model, "v2", shift: 4);

        var report = await ScoreAsync(_app, $"{_model}@v1/day.csv", Csv(Rows));

        Assert.Equal(("v1", $"predictions/{_model}@v1/day.csv"), (report.Version, report.Output));
        var output = (await DownloadTextAsync(report.Output!)).TrimEnd('\n').Split('\n').Skip(1).Select(l => l.Split(',')).ToList();
        await AssertEqualsServingAsync(_model, "v1", Rows.Where(r => output.Any(o => o[0] == r[0])).ToList(), output.Select(r => (r[5], Floats(r[6..]))).ToList());
        var current = await ScoreAsync(_app, $"{_model}/day.csv", Csv(Rows));
        Assert.Equal("v2", current.Version);
    }

    [Fact]
    public async Task RunAsync_Regression_WritesTheValue()
    {
        await TestModels.PublishEncodedAsync(_model, "v1", regression: true);

        var report = await ScoreAsync(_app, $"{_model}/day.csv", Csv(Rows));

        var lines = (await DownloadTextAsync(report.Output!)).TrimEnd('\n').Split('\n');
        Assert.Equal("id,size,color,member,label,prediction", lines[0]);
        var scored = Rows.Where(r => lines.Skip(1).Any(l => l.StartsWith(r[0] + ",", StringComparison.Ordinal))).ToList();
        using var serving = new ServingAppFactory();
        var response = await PredictAsync(serving, _model, null, scored);
        var expected = response["predictions"]!.AsArray().Select(p => p!["value"]!.GetValue<float>());
        Assert.Equal(expected, lines.Skip(1).Select(l => float.Parse(l.Split(',')[^1], CultureInfo.InvariantCulture)));
    }

    public static TheoryData<string, ScoringFailure> FailedFiles() => new()
    {
        { "nomodel-{0}/day.csv", ScoringFailure.UnknownModel },
        { "{0}@v9/day.csv", ScoringFailure.UnknownVersion },
        { "Bad Name/day.csv", ScoringFailure.InvalidPath },
        { "{0}@../day.csv", ScoringFailure.InvalidPath },
    };

    [Theory]
    [MemberData(nameof(FailedFiles))]
    public async Task RunAsync_FileThatCannotBeScored_WritesAFailedReportAndNoOutput(string path, ScoringFailure reason)
    {
        await TestModels.PublishEncodedAsync(_model, "v1");
        var blob = string.Format(CultureInfo.InvariantCulture, path, _model);

        var report = await ScoreAsync(_app, blob, Csv(Rows));

        Assert.Equal((ScoringStatus.Failed, reason), (report.Status, report.Reason));
        Assert.Null(report.Output);
        Assert.False(await Predictions().GetBlobClient(blob).ExistsAsync(Cancellation));
        Assert.NotEmpty(report.Message);
    }

    [Fact]
    public async Task RunAsync_MissingColumn_NamesItAndRemovesAnEarlierOutput()
    {
        await TestModels.PublishEncodedAsync(_model, "v1");
        var first = await ScoreAsync(_app, $"{_model}/day.csv", Csv(Rows));
        Assert.Equal(ScoringStatus.Succeeded, first.Status);

        var report = await ScoreAsync(_app, $"{_model}/day.csv", "id,size,member\n1,2,true\n");

        Assert.Equal((ScoringStatus.Failed, ScoringFailure.MissingColumns), (report.Status, report.Reason));
        Assert.Contains("'color'", report.Message, StringComparison.Ordinal);
        Assert.False(await Predictions().GetBlobClient($"{_model}/day.csv").ExistsAsync(Cancellation));
    }

    [Fact]
    public async Task RunAsync_FileAboveMaxFileBytes_IsHandedToTheScoringJobWithItsTraceContext()
    {
        var queue = Azurite.UniqueName("score-jobs");
        await using var app = new PreprocessingApp(new Dictionary<string, string> { ["Scoring:MaxFileBytes"] = "64", ["Scoring:JobQueue"] = queue });
        await TestModels.PublishEncodedAsync(_model, "v1");
        // An output an earlier upload of the name left must not sit beside the new upload's report.
        await Predictions().GetBlobClient($"{_model}@v1/day.csv").UploadAsync(BinaryData.FromString("stale"), overwrite: true, Cancellation);
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PipelineTelemetry.Scoring,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        var report = await ScoreAsync(app, $"{_model}@v1/day.csv", Csv(Rows));

        Assert.Equal((ScoringStatus.HandedToJob, ScoringHost.Job, (ScoringFailure?)null), (report.Status, report.ScoredBy, report.Reason));
        Assert.Contains("Scoring:MaxFileBytes", report.Message, StringComparison.Ordinal);
        Assert.Equal(Encoding.UTF8.GetByteCount(Csv(Rows)), report.Bytes);
        Assert.Null(report.Output);
        Assert.False(await Predictions().GetBlobClient($"{_model}@v1/day.csv").ExistsAsync(Cancellation));
        var message = Assert.Single((await Azurite.Queues().GetQueueClient(queue).ReceiveMessagesAsync(32, cancellationToken: Cancellation)).Value);
        var request = JsonSerializer.Deserialize(message.Body.ToString(), PipelineJson.Default.ScoreJobRequest)!;
        var blob = (await Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer).GetBlobClient($"{_model}@v1/day.csv").GetPropertiesAsync(cancellationToken: Cancellation)).Value;
        Assert.Equal(($"{_model}@v1/day.csv", _model, "v1", blob.ETag.ToString(), blob.ContentLength), (request.Blob, request.Model, request.Version, request.ETag, request.Bytes));
        var span = Assert.Single(spans, a => a.OperationName == "score" && (string?)a.GetTagItem("pipeline.blob") == request.Blob);
        Assert.Equal(span.Id, request.TraceParent);
    }

    [Fact]
    public async Task HandleAsync_HandedOverRequest_IsScoredInTheHandOversTrace()
    {
        var queue = Azurite.UniqueName("score-jobs");
        await using var app = new PreprocessingApp(new Dictionary<string, string> { ["Scoring:MaxFileBytes"] = "64", ["Scoring:JobQueue"] = queue });
        await TestModels.PublishEncodedAsync(_model, "v1");
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PipelineTelemetry.Scoring,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await ScoreAsync(app, $"{_model}/traced.csv", Csv(Rows));
        var message = Assert.Single((await Azurite.Queues().GetQueueClient(queue).ReceiveMessagesAsync(32, cancellationToken: Cancellation)).Value);
        var request = JsonSerializer.Deserialize(message.Body.ToString(), PipelineJson.Default.ScoreJobRequest)!;

        var report = await app.ScoreHandler.HandleAsync(request, Cancellation);

        Assert.Equal((ScoringStatus.Succeeded, ScoringHost.Job, 6L), (report!.Status, report.ScoredBy, report.Scored));
        var handOver = ActivityContext.Parse(request.TraceParent!, null);
        var jobSpan = Assert.Single(spans, a => a.OperationName == "score" && (string?)a.GetTagItem("pipeline.blob") == request.Blob && a.ParentSpanId == handOver.SpanId);
        Assert.Equal(handOver.TraceId, jobSpan.TraceId);
    }

    [Fact]
    public async Task HandleAsync_RequestForAnUploadReplacedSince_IsCompletedWithoutScoring()
    {
        var queue = Azurite.UniqueName("score-jobs");
        await using var app = new PreprocessingApp(new Dictionary<string, string> { ["Scoring:MaxFileBytes"] = "64", ["Scoring:JobQueue"] = queue });
        await TestModels.PublishEncodedAsync(_model, "v1");
        var handed = await ScoreAsync(app, $"{_model}/replaced.csv", Csv(Rows));
        var message = Assert.Single((await Azurite.Queues().GetQueueClient(queue).ReceiveMessagesAsync(32, cancellationToken: Cancellation)).Value);
        var request = JsonSerializer.Deserialize(message.Body.ToString(), PipelineJson.Default.ScoreJobRequest)!;
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer).GetBlobClient($"{_model}/replaced.csv").UploadAsync(BinaryData.FromString(Csv(Rows) + "9,1,red,true,yes\n"), overwrite: true, Cancellation);

        var report = await app.ScoreHandler.HandleAsync(request, Cancellation);

        Assert.Null(report);
        Assert.False(await Predictions().GetBlobClient($"{_model}/replaced.csv").ExistsAsync(Cancellation));
        var stored = Assert.NotNull(await BlobJson.ReadAsync(Predictions().GetBlobClient($"{_model}/replaced.csv" + StorageNames.ScoringReportSuffix), PipelineJson.Default.ScoringReport, Cancellation)).Value;
        Assert.Equal((ScoringStatus.HandedToJob, handed.StartedAt), (stored.Status, stored.StartedAt));
    }

    [Fact]
    public async Task RunAsync_FileAboveMaxJobFileBytes_IsRejectedWithTheLimit()
    {
        var queue = Azurite.UniqueName("score-jobs");
        await using var app = new PreprocessingApp(new Dictionary<string, string>
        {
            ["Scoring:MaxFileBytes"] = "32", ["Scoring:MaxJobFileBytes"] = "64", ["Scoring:JobQueue"] = queue,
        });
        await TestModels.PublishEncodedAsync(_model, "v1");

        var report = await ScoreAsync(app, $"{_model}/day.csv", Csv(Rows));

        Assert.Equal((ScoringStatus.Failed, ScoringFailure.TooLarge), (report.Status, report.Reason));
        Assert.Contains("Scoring:MaxJobFileBytes", report.Message, StringComparison.Ordinal);
        Assert.False((await Azurite.Queues().GetQueueClient(queue).ExistsAsync(Cancellation)).Value);
    }

    [Fact]
    public async Task RunAsync_FileAtMaxFileBytes_IsScoredInTheFunctionsApp()
    {
        var content = Csv(Rows);
        var queue = Azurite.UniqueName("score-jobs");
        await using var app = new PreprocessingApp(new Dictionary<string, string>
        {
            ["Scoring:MaxFileBytes"] = Encoding.UTF8.GetByteCount(content).ToString(CultureInfo.InvariantCulture), ["Scoring:JobQueue"] = queue,
        });
        await TestModels.PublishEncodedAsync(_model, "v1");

        var report = await ScoreAsync(app, $"{_model}/day.csv", content);

        Assert.Equal((ScoringStatus.Succeeded, ScoringHost.FunctionsApp), (report.Status, report.ScoredBy));
        Assert.False((await Azurite.Queues().GetQueueClient(queue).ExistsAsync(Cancellation)).Value);
    }

    [Fact]
    public async Task RunAsync_CorruptGzip_IsAnUnreadableFileReport()
    {
        await TestModels.PublishEncodedAsync(_model, "v1");

        var content = Gzip(Encoding.UTF8.GetBytes(Csv(Rows)));
        content.AsSpan(12, 40).Fill(0xFF);

        var report = await ScoreAsync(_app, $"{_model}/day.csv.gz", content);

        Assert.Equal((ScoringStatus.Failed, ScoringFailure.UnreadableFile), (report.Status, report.Reason));
    }

    [Fact]
    public async Task RunAsync_ManyBlocks_KeepsRowOrderAndCountsEveryRow()
    {
        await TestModels.PublishEncodedAsync(_model, "v1");
        var rows = Enumerable.Range(0, 30_000).Select(i => new[]
        {
            i.ToString(CultureInfo.InvariantCulture), (i % 97 / 7.0).ToString(CultureInfo.InvariantCulture), i % 5 == 0 ? "blue" : i % 7 == 0 ? "teal" : "red",
            i % 2 == 0 ? "true" : "false", "no",
        }).ToArray();
        rows[12_345][1] = "twelve";

        var report = await ScoreAsync(_app, $"{_model}/big.csv", Csv(rows));

        Assert.Equal((30_000L, 29_999L, 1L), (report.Rows, report.Scored, report.Failed));
        Assert.Equal(12_347L, Assert.Single(report.BadRows).Line);
        var ids = (await DownloadTextAsync(report.Output!)).TrimEnd('\n').Split('\n').Skip(1).Select(l => int.Parse(l[..l.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture));
        Assert.Equal(Enumerable.Range(0, 30_000).Where(i => i != 12_345), ids);
    }

    [Fact]
    public async Task RunAsync_GzipCutShortAfterManyBlocks_IsAnUnreadableFileReportAfterTheBlocksBeforeIt()
    {
        // The reader fails while the writer holds earlier blocks: the failure reaches the report, nothing hangs.
        await TestModels.PublishEncodedAsync(_model, "v1");
        var rows = Enumerable.Range(0, 200_000).Select(i => new[]
        {
            i.ToString(CultureInfo.InvariantCulture), (i % 97 / 7.0).ToString(CultureInfo.InvariantCulture), i % 5 == 0 ? "blue" : "red",
            i % 2 == 0 ? "true" : "false", "no",
        }).ToArray();
        var whole = Gzip(Encoding.UTF8.GetBytes(Csv(rows)));
        var cut = whole[..(whole.Length * 3 / 4)];

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        deadline.CancelAfter(TimeSpan.FromMinutes(2));
        var report = await ScoreAsync(_app, $"{_model}/cut.csv.gz", cut).WaitAsync(deadline.Token);

        Assert.Equal((ScoringStatus.Failed, ScoringFailure.UnreadableFile), (report.Status, report.Reason));
        Assert.True(report.Rows > 10_000, $"the failure came before the first blocks were read ({report.Rows} rows)");
        Assert.Contains("rows before it were not written", report.Message, StringComparison.Ordinal);
    }

    private static async Task AssertEqualsServingAsync(string model, string? version, List<string[]> rows, List<(string Label, float[] Probabilities)> scored)
    {
        using var serving = new ServingAppFactory();
        var response = await PredictAsync(serving, model, version, rows);
        var predictions = response["predictions"]!.AsArray();
        Assert.Equal(predictions.Count, scored.Count);
        for (var i = 0; i < scored.Count; i++)
        {
            Assert.Equal(predictions[i]!["label"]!.GetValue<string>(), scored[i].Label);
            var probabilities = predictions[i]!["probabilities"]!.AsObject();
            Assert.Equal([probabilities["no"]!.GetValue<float>(), probabilities["yes"]!.GetValue<float>()], scored[i].Probabilities);
        }
    }

    /// <summary>The rows as the serving app's clients send them: every cell as a JSON string, empty cells as null.</summary>
    private static async Task<JsonNode> PredictAsync(ServingAppFactory serving, string model, string? version, List<string[]> rows)
    {
        using var client = serving.CreateClient();
        var body = new JsonObject
        {
            ["rows"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject(Header.Select((h, c) => KeyValuePair.Create(h, r[c].Length == 0 ? null : (JsonNode?)JsonValue.Create(r[c])))))]),
        };
        using var response = await client.PostAsJsonAsync($"/api/models/{model}/predict" + (version is null ? "" : $"?version={version}"), body, Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonNode.Parse(text)!;
    }

    private static Azure.Storage.Blobs.BlobContainerClient Predictions() => Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer);

    private static Task<ScoringReport> ScoreAsync(PreprocessingApp app, string blob, string content) => ScoreAsync(app, blob, Encoding.UTF8.GetBytes(content));

    private static async Task<ScoringReport> ScoreAsync(PreprocessingApp app, string blob, byte[] content)
    {
        await Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer).GetBlobClient(blob).UploadAsync(new BinaryData(content), overwrite: true, Cancellation);
        await app.ScoreFunction.RunAsync(Invocations.BlobCreatedEvent(StorageNames.ScoreContainer, blob).ToJsonString(), Cancellation);
        var read = await BlobJson.ReadAsync(Predictions().GetBlobClient(blob + StorageNames.ScoringReportSuffix), PipelineJson.Default.ScoringReport, Cancellation);
        return Assert.NotNull(read).Value;
    }

    private static async Task<string> DownloadTextAsync(string path) =>
        (await Predictions().GetBlobClient(path[(StorageNames.PredictionsContainer.Length + 1)..]).DownloadContentAsync(Cancellation)).Value.Content.ToString();

    private static async Task<List<(string Id, string Label, float[] Probabilities)>> ReadOutputAsync(string path, string format)
    {
        var bytes = (await Predictions().GetBlobClient(path[(StorageNames.PredictionsContainer.Length + 1)..]).DownloadContentAsync(Cancellation)).Value.Content.ToArray();
        if (format.EndsWith("+gzip", StringComparison.Ordinal))
        {
            using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var plain = new MemoryStream();
            await gzip.CopyToAsync(plain, Cancellation);
            bytes = plain.ToArray();
        }

        if (format.StartsWith("jsonl", StringComparison.Ordinal))
        {
            return [.. Encoding.UTF8.GetString(bytes).TrimEnd('\n').Split('\n').Select(l => JsonNode.Parse(l)!).Select(o =>
                (o["id"]!.ToJsonString(), o["prediction"]!.GetValue<string>(), new[] { o["probability_no"]!.GetValue<float>(), o["probability_yes"]!.GetValue<float>() }))];
        }

        if (format == "parquet")
        {
            using var stream = new MemoryStream(bytes);
            await using var reader = await Parquet.ParquetReader.CreateAsync(stream, cancellationToken: Cancellation);
            var fields = reader.Schema.GetDataFields();
            using var group = reader.OpenRowGroupReader(0);
            var count = (int)group.RowCount;
            async Task<string?[]> Column(string name)
            {
                var values = new string?[count];
                await group.ReadAsync(fields.Single(f => f.Name == name), values.AsMemory(), null, Cancellation);
                return values;
            }

            async Task<float[]> Floats(string name)
            {
                var values = new float[count];
                await group.ReadAsync<float>(fields.Single(f => f.Name == name), values.AsMemory(), null, Cancellation);
                return values;
            }

            var ids = await Column("id");
            var labels = await Column("prediction");
            var no = await Floats("probability_no");
            var yes = await Floats("probability_yes");
            Assert.Equal(["id", "size", "color", "member", "label", "prediction", "probability_no", "probability_yes"], fields.Select(f => f.Name));
            return [.. ids.Select((id, i) => (id!, labels[i]!, new[] { no[i], yes[i] }))];
        }

        return [.. Encoding.UTF8.GetString(bytes).TrimEnd('\n').Split('\n').Skip(1).Select(l => l.Split(l.Contains('\t', StringComparison.Ordinal) ? '\t' : ','))
            .Select(r => (r[0], r[5], Floats(r[6..])))];
    }

    private static float[] Floats(IEnumerable<string> values) => [.. values.Select(v => float.Parse(v, CultureInfo.InvariantCulture))];

    private static string Csv(IEnumerable<string[]> rows) => string.Join(',', Header) + "\n" + string.Concat(rows.Select(r => string.Join(',', r) + "\n"));

    /// <summary>JSON Lines as a team would write them: numbers as numbers, booleans as booleans, missing as null.</summary>
    private static byte[] JsonLines(IEnumerable<string[]> rows) => Encoding.UTF8.GetBytes(string.Concat(rows.Select(r =>
    {
        var row = new JsonObject();
        for (var c = 0; c < Header.Length; c++)
        {
            var value = r[c];
            row[Header[c]] = value.Length == 0 ? null
                : c == 0 ? JsonValue.Create(int.Parse(value, CultureInfo.InvariantCulture))
                : c == 1 && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? JsonValue.Create(number)
                : JsonValue.Create(value);
        }

        return row.ToJsonString() + "\n";
    })));

    private static async Task<byte[]> ParquetAsync(string[][] rows)
    {
        var fields = Header.Select(h => new Parquet.Schema.DataField<string>(h)).ToArray();
        using var buffer = new MemoryStream();
        await using (var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(fields), buffer, cancellationToken: Cancellation))
        {
            using var group = writer.CreateRowGroup();
            for (var c = 0; c < Header.Length; c++)
            {
                await group.WriteAsync(fields[c], rows.Select(r => r[c].Length == 0 ? null : r[c]).ToArray());
            }
        }

        return buffer.ToArray();
    }

    private static byte[] Gzip(byte[] content)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
        {
            gzip.Write(content);
        }

        return buffer.ToArray();
    }
}
