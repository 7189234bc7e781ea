using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Telemetry;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Telemetry;

/// <summary>
/// One upload is one trace: the preprocessing spans, the training request, the trainer's job, stages and trials, export,
/// gate and publish share a trace id, captured with OpenTelemetry's in-memory exporter against Azurite. The preprocessing
/// runs in this process (the functions app's real function class, whose return value the host's output binding queues);
/// the training request crosses the real <c>train-requests</c> queue to the fixture's trainer, which runs in this process
/// too. <see cref="RealWorker_TrainingRequest_CarriesTheUploadsTraceToTheModelManifest"/> covers the worker process.
/// </summary>
[Collection(PipelineTests.Name)]
public sealed class UploadTraceTests(PipelineFixture pipeline)
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private BlobContainerClient Raw => pipeline.Blobs.GetBlobContainerClient(StorageNames.RawContainer);

    [Fact]
    public async Task OneUpload_IsOneTrace_FromPreprocessingThroughTheQueueToPublish_AndPredictSpansNameModelAndVersion()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource([.. PipelineTelemetry.All]).AddInMemoryExporter(spans).Build();
        using var metrics = new MetricCapture();

        // Not the fixture's prefix: its Event Grid stand-in must not announce this upload to the worker process as well.
        var name = Azurite.UniqueName("traced");
        var (csv, _) = SyntheticData.ThreeClass(500, seed: 7);
        await Raw.UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), Cancellation);

        var message = await pipeline.Preprocessing.Function.RunAsync(Invocations.BlobCreatedEvent("raw", $"{name}/data.csv").ToJsonString(), Cancellation);
        Assert.NotNull(message);
        var request = JsonSerializer.Deserialize(message, PipelineJson.Default.TrainRequest)!;
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(request.TraceParent ?? "", "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"), $"traceParent {request.TraceParent}");
        await pipeline.Queues.GetQueueClient(StorageNames.TrainRequestsQueue).SendMessageAsync(message, Cancellation);

        var modelManifest = await WaitForAsync(() => ReadAsync(StorageNames.ModelsContainer, StorageNames.ModelManifestPath(name, request.DatasetVersion), PipelineJson.Default.ModelManifest));
        var datasetManifest = (await ReadAsync(StorageNames.DatasetsContainer, StorageNames.DatasetManifestPath(name, request.DatasetVersion), PipelineJson.Default.DatasetManifest))!;

        // The job span ends after the run status is written; wait for it rather than for the manifest alone.
        await WaitForAsync(() => Task.FromResult(Snapshot(spans).Any(s => s.DisplayName == "train" && Tag(s, "pipeline.model") == name) ? (object)true : null));
        tracing.ForceFlush();
        var trace = Snapshot(spans).Where(s => Tag(s, "pipeline.dataset") == name || Tag(s, "pipeline.model") == name).Select(s => s.TraceId).Distinct().ToList();
        var traceId = Assert.Single(trace);
        var traced = Snapshot(spans).Where(s => s.TraceId == traceId).ToList();
        var names = traced.Select(s => s.DisplayName).ToHashSet();
        foreach (var expected in new[]
        {
            "preprocess", "preprocess download", "preprocess build", "preprocess write", "train-requests send",
            "train", "train load", "train search", "train trial", "train export", "train quantize", "train gate", "train report", "train publish",
        })
        {
            Assert.True(names.Contains(expected), $"no '{expected}' span in the upload's trace; it has: {string.Join(", ", names.Order())}");
        }

        var send = Span(traced, "train-requests send");
        var job = Span(traced, "train");
        Assert.Equal(send.SpanId, job.ParentSpanId);
        Assert.Equal(ActivityKind.Consumer, job.Kind);
        Assert.Equal(RunStates.Succeeded, Tag(job, "pipeline.run.state"));
        var search = Span(traced, "train search");
        var trials = traced.Where(s => s.DisplayName == "train trial").ToList();
        Assert.Equal(modelManifest.Search!.Trials.Count, trials.Count);
        Assert.All(trials, t => Assert.Equal(search.SpanId, t.ParentSpanId));
        Assert.All(traced.Where(s => s.DisplayName.StartsWith("train ", StringComparison.Ordinal) && s.DisplayName is not "train trial" and not "train-requests send"),
            s => Assert.Equal(job.SpanId, s.ParentSpanId));
        Assert.Equal(modelManifest.Promotion!.Promoted.ToString(), Tag(Span(traced, "train gate"), "pipeline.promoted"), ignoreCase: true);

        // The manifests record the trace.
        Assert.Equal(traceId.ToHexString(), datasetManifest.TraceId);
        Assert.Equal(traceId.ToHexString(), modelManifest.TraceId);

        // Predict: a span naming the model and the version that answered.
        var lines = csv.Split('\n');
        var row = new JsonObject();
        foreach (var (column, value) in lines[0].Split(',').Zip(lines[1].Split(',')))
        {
            row[column] = double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : value;
        }

        await WaitForAsync(async () =>
        {
            using var response = await pipeline.ServingClient.GetAsync(new Uri($"/api/models/{name}", UriKind.Relative), Cancellation);
            return response.StatusCode == HttpStatusCode.OK && JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["current"] is JsonObject ? (object)true : null;
        });
        for (var i = 0; i < 2; i++)
        {
            using var predicted = await pipeline.ServingClient.PostAsJsonAsync($"/api/models/{name}/predict", new JsonObject { ["rows"] = new JsonArray(row.DeepClone(), row.DeepClone()) }, Cancellation);
            Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
        }

        tracing.ForceFlush();
        var predicts = Snapshot(spans).Where(s => s.DisplayName == "predict" && Tag(s, "pipeline.model") == name).ToList();
        Assert.Equal(2, predicts.Count);
        Assert.All(predicts, p =>
        {
            Assert.Equal(request.DatasetVersion, Tag(p, "pipeline.model.version"));
            Assert.Equal("2", Tag(p, "pipeline.rows"));
            Assert.Equal("200", Tag(p, "http.response.status_code"));
        });
        Assert.Contains(Snapshot(spans), s => s.DisplayName == "model load" && Tag(s, "pipeline.model") == name && Tag(s, "pipeline.load.outcome") == "loaded");

        // The console's timeline of this version: upload, preprocessing, every stage of the run, promotion, in order.
        var details = JsonNode.Parse(await pipeline.ServingClient.GetStringAsync(new Uri($"/api/datasets/{name}/versions/{request.DatasetVersion}", UriKind.Relative), Cancellation))!;
        var timeline = details["timeline"]!.AsArray().Select(t => (Stage: t!["stage"]!.GetValue<string>(), At: t["at"]!.GetValue<DateTimeOffset>())).ToList();
        Assert.Equal(["uploaded", "preprocessed", "loading", "searching"], timeline.Take(4).Select(t => t.Stage));
        Assert.Equal(["publishing", "done", "promoted"], timeline.TakeLast(3).Select(t => t.Stage));
        Assert.Contains(timeline, t => t.Stage == "exporting");
        Assert.Contains(timeline, t => t.Stage == "quantizing");
        Assert.Contains(timeline, t => t.Stage == "comparing");
        Assert.True(timeline.Zip(timeline.Skip(1)).All(p => p.First.At <= p.Second.At), string.Join(", ", timeline));
        Assert.Equal(datasetManifest.CreatedAt, timeline[1].At);

        // Metrics of the same run, from the meters' own instruments.
        metrics.Collect();
        Assert.Contains(metrics.For("pipeline.preprocess.duration"), m => Tag(m, "pipeline.result") == "Accepted");
        Assert.Contains(metrics.For("pipeline.preprocess.rows"), m => m.Value == datasetManifest.Rows.Used);
        Assert.Contains(metrics.For("pipeline.training.duration"), m => Tag(m, "pipeline.run.state") == RunStates.Succeeded && m.Value > 0);
        Assert.True(metrics.For("pipeline.training.trials").Sum(m => m.Value) >= trials.Count);
        Assert.Contains(metrics.For("pipeline.queue.depth"), m => m.Value >= 0);
        Assert.Equal(4, metrics.For("pipeline.predict.rows").Where(m => Tag(m, "pipeline.model") == name).Sum(m => m.Value));
        Assert.Equal(2, metrics.For("pipeline.predict.duration").Count(m => Tag(m, "pipeline.model") == name && Tag(m, "http.response.status_code") == "200"));
        Assert.Contains(metrics.For("pipeline.model.load.duration"), m => Tag(m, "pipeline.model") == name && Tag(m, "pipeline.load.outcome") == "loaded");
        Assert.Contains(metrics.For("pipeline.model.cache.misses"), m => Tag(m, "pipeline.model") == name);
        Assert.Contains(metrics.For("pipeline.model.cache.hits"), m => Tag(m, "pipeline.model") == name);
    }

    [Fact]
    public async Task Rejection_IsCountedByReason_OnTheUploadsSpan()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(PipelineTelemetry.Preprocessing).AddInMemoryExporter(spans).Build();
        using var metrics = new MetricCapture();
        var name = Azurite.UniqueName("traced-rejected");
        await Raw.UploadBlobAsync($"{name}/ragged.csv", BinaryData.FromString("a,b,label\n1,2,x\n3\n4,5,y\n"), Cancellation);

        var outcome = await Invocations.PreprocessAsync(pipeline.Preprocessing, $"{name}/ragged.csv");

        Assert.Equal(Pipeline.Preprocessing.PreprocessResult.Rejected, outcome.Result);
        tracing.ForceFlush();
        var span = Assert.Single(Snapshot(spans), s => s.DisplayName == "preprocess" && Tag(s, "pipeline.dataset") == name);
        Assert.Equal("Rejected", Tag(span, "pipeline.result"));
        var rejected = Snapshot(spans).Where(s => s.TraceId == span.TraceId).SelectMany(s => s.Events).Single(e => e.Name == "rejected");
        Assert.Equal("ragged-rows", rejected.Tags.Single(t => t.Key == "pipeline.rejection.reason").Value);
        metrics.Collect();
        Assert.Contains(metrics.For("pipeline.preprocess.rejections"), m => Tag(m, "pipeline.rejection.reason") == "ragged-rows" && m.Value == 1);
    }

    [Fact]
    public async Task RealWorker_TrainingRequest_CarriesTheUploadsTraceToTheModelManifest()
    {
        // Through the fixture's Event Grid stand-in, the functions app's isolated worker (a child process, exporting
        // nowhere) and the train-requests queue: the worker's trace id reaches the trainer in the message.
        var name = Azurite.UniqueName(PipelineFixture.DatasetPrefix + "traced");
        var (csv, _) = SyntheticData.ThreeClass(400, seed: 9);
        await Raw.UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), Cancellation);

        var model = await WaitForAsync(async () =>
        {
            var pointer = await ReadAsync(StorageNames.ModelsContainer, StorageNames.CurrentPointerPath(name), PipelineJson.Default.CurrentPointer);
            return pointer is null ? null : await ReadAsync(StorageNames.ModelsContainer, StorageNames.ModelManifestPath(name, pointer.Version), PipelineJson.Default.ModelManifest);
        });
        var dataset = (await ReadAsync(StorageNames.DatasetsContainer, StorageNames.DatasetManifestPath(name, model.DatasetVersion), PipelineJson.Default.DatasetManifest))!;

        Assert.Matches("^[0-9a-f]{32}$", dataset.TraceId);
        Assert.Equal(dataset.TraceId, model.TraceId);
    }

    private static List<Activity> Snapshot(List<Activity> spans)
    {
        lock (spans)
        {
            return [.. spans];
        }
    }

    private static Activity Span(List<Activity> spans, string name) => spans.First(s => s.DisplayName == name);

    private static string? Tag(Activity activity, string key) => activity.TagObjects.FirstOrDefault(t => t.Key == key).Value switch
    {
        null => null,
        IFormattable formattable => formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        var value => value.ToString(),
    };

    private static string? Tag(MetricCapture.Measurement m, string key) => m.Tag(key);

    private async Task<T?> ReadAsync<T>(string container, string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class =>
        (await BlobJson.ReadAsync(pipeline.Blobs.GetBlobContainerClient(container).GetBlobClient(path), type, Cancellation))?.Value;

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe) where T : class
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } result)
            {
                return result;
            }

            await Task.Delay(250, Cancellation);
        }

        Assert.Fail($"Nothing after {Patience}.");
        return null!;
    }
}
