using System.Text.Json.Nodes;
using Azure.Storage.Queues;
using Pipeline.Storage;
using Pipeline.Tests.Functions.Drift;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Cli;

/// <summary>
/// <c>pipeline drift MODEL</c>: the request goes through queue <c>drift-requests</c> to the DriftRequest function (played
/// here by the function class over the real queue, as the host would), and the command shows the report it writes.
/// </summary>
public sealed class CliDriftTests : IAsyncLifetime
{
    private readonly PreprocessingApp _app = new();
    private readonly string _model = Azurite.UniqueName("cli-drift");

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await Queue().CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await DriftData.PublishAsync(_model);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static QueueClient Queue() => Azurite.Queues().GetQueueClient(StorageNames.DriftRequestsQueue);

    /// <summary>Plays the host for this test's model: takes its requests off the queue and runs the function on them.</summary>
    private async Task ServeRequestsAsync(CancellationToken cancellationToken)
    {
        var queue = Queue();
        while (!cancellationToken.IsCancellationRequested)
        {
            Azure.Storage.Queues.Models.QueueMessage[] messages;
            try
            {
                messages = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(1), cancellationToken)).Value;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopped while a receive was in flight: the test is done with the queue.
                return;
            }

            foreach (var message in messages)
            {
                if (JsonNode.Parse(message.Body.ToString())?["model"]?.GetValue<string>() == _model)
                {
                    await _app.DriftFunctions.RunRequestAsync(message.Body.ToString(), cancellationToken);
                    await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
                }
            }

            await Task.Delay(100, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [Fact]
    public async Task Drift_ShiftedScoredFile_ShowsTheReportFlaggingTheShiftedColumn()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/day.csv", DriftData.Csv(DriftData.Rows(1000, seed: 40, sizeShift: 3)));
        var predicted = await DriftData.PredictionsAsync($"{_model}/day.csv");
        // The true labels of the first 100 scored rows: the model was right on the even ids only.
        await DriftData.UploadOutcomesAsync($"{_model}/truth.csv", "id,label\n" + string.Concat(Enumerable.Range(1, 100).Select(i =>
        {
            var label = predicted[i.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            return $"{i},{(i % 2 == 0 ? label : label == "yes" ? "no" : "yes")}\n";
        })));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        var serving = ServeRequestsAsync(stop.Token);

        var json = await CliTestHost.StorageAsync("drift", _model, "--json", "--timeout", "60s");
        var text = await CliTestHost.StorageAsync("drift", _model, "--timeout", "60s");
        await stop.CancelAsync();
        await serving;

        Assert.True(json.ExitCode == 0, json.ToString());
        var report = JsonNode.Parse(json.Out)!;
        Assert.Equal(("drifted", 1000L), (report["status"]!.GetValue<string>(), report["rows"]!.GetValue<long>()));
        Assert.Equal(["size"], report["driftedColumns"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("drifted over 1000 rows", text.Out, StringComparison.Ordinal);
        Assert.Equal(0.5, report["outcomes"]!["live"]!.GetValue<double>());
        Assert.Contains("live accuracy 0.5 over 100 labelled row(s) (test split 0.9); 0 outcome id(s) matched no scored row", text.Out, StringComparison.Ordinal);
        // The model was published without the trainer: its manifest names no dataset to retrain from.
        Assert.Contains("retrain: unavailable — Version v1's manifest names no dataset", text.Out, StringComparison.Ordinal);
        Assert.Contains($"monitoring/{_model}/drift/", text.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drift_NobodyAnswers_TimesOutNamingTheQueue()
    {
        // An Azurite of its own: on the shared one any daily-style run over all models (the timer tests) answers too.
        await using var azurite = await PrivateAzurite.StartAsync(Cancellation);
        var models = azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await BlobJson.WriteAsync(models.GetBlobClient(StorageNames.CurrentPointerPath(_model)), new Pipeline.Contracts.CurrentPointer { Version = "v1" },
            Pipeline.Contracts.PipelineJson.Default.CurrentPointer, null, Cancellation);
        await azurite.Queues().GetQueueClient(StorageNames.DriftRequestsQueue).CreateIfNotExistsAsync(cancellationToken: Cancellation);

        var run = await CliTestHost.RunAsync(["drift", _model, "--timeout", "1s", "--connection-string", azurite.ConnectionString]);

        Assert.True(run.ExitCode == 6, run.ToString());
        Assert.Contains("waits in queue drift-requests", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drift_UnknownModel_IsNotFound()
    {
        var run = await CliTestHost.StorageAsync("drift", Azurite.UniqueName("cli-nomodel"));

        Assert.True(run.ExitCode == 3, run.ToString());
    }
}
