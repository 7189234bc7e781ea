using System.Text.Json.Nodes;
using Pipeline.Cli;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Cli;

/// <summary>
/// The tool against the real serving app (over HTTP) and Azurite: <c>models</c>, <c>predict</c>, <c>rollback</c>,
/// <c>promote</c>, and the errors a wrong key, an unknown model and an unreachable app give.
/// </summary>
public sealed class CliServingTests : IAsyncLifetime
{
    private readonly string _model = Azurite.UniqueName("cli-serve");
    private KestrelServing _serving = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await TestModels.PublishAsync(_model, "v1", TestModels.TwoClass(bias: 0));
        _serving = new KestrelServing();
    }

    public async ValueTask DisposeAsync() => await _serving.DisposeAsync();

    [Fact]
    public async Task Models_Json_ListsThePublishedModelWithItsCurrentVersion()
    {
        var run = await _serving.RunAsync("models", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        var model = JsonNode.Parse(run.Out)!.AsArray().Single(m => (string?)m!["name"] == _model)!;
        Assert.Equal("v1", (string?)model["currentVersion"]);
        Assert.Equal("classification", (string?)model["task"]);
    }

    [Fact]
    public async Task Models_Table_NamesTheModel()
    {
        var run = await _serving.RunAsync("models");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(_model, run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_WrongKey_ExitsUnauthorized_SayingWhichKey()
    {
        var run = await CliTestHost.RunAsync(["models", "--connection-string", Azurite.ConnectionString, "--serving-url", _serving.Url, "--key", "not-the-key"]);

        Assert.Equal((int)ExitCode.Unauthorized, run.ExitCode);
        Assert.Contains("refused the key (401", run.Error, StringComparison.Ordinal);
        Assert.Contains("--key", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_ServingAppUnreachable_ExitsUnreachable()
    {
        var url = $"http://127.0.0.1:{Ports.Free()}";
        var run = await CliTestHost.RunAsync(["models", "--json", "--serving-url", url, "--key", "k"]);

        Assert.Equal((int)ExitCode.Unreachable, run.ExitCode);
        var error = JsonNode.Parse(run.Error)!;
        Assert.Equal("unreachable", (string?)error["error"]);
        Assert.Contains(url, (string?)error["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_CsvFile_InBatches_WritesInputColumnsThenLabelAndProbabilities()
    {
        using var folder = new TempDirectory();
        var rows = folder.File("rows.csv");
        // "high" when a + b > 0 (TestModels.TwoClass); five rows in batches of two make three requests.
        await File.WriteAllTextAsync(rows, "a,b\n1,2\n-3,-1\n0.5,0.25\n\"-2\",1\n4,-1\n", Cancellation);

        var run = await _serving.RunAsync("predict", _model, "--file", rows, "--batch-size", "2");

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("a,b,label,p_low,p_high", lines[0]);
        Assert.Equal(["high", "low", "high", "low", "high"], lines.Skip(1).Select(l => l.Split(',')[2]));
        Assert.StartsWith("1,2,high,", lines[1], StringComparison.Ordinal);
        Assert.Contains($"5 rows predicted by model {_model} version v1", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_JsonLines_ToOutFile_WritesOnePredictionPerLine()
    {
        using var folder = new TempDirectory();
        var rows = folder.File("rows.jsonl");
        var output = folder.File("predictions.jsonl");
        await File.WriteAllTextAsync(rows, "{\"a\":1,\"b\":1}\n\n{\"a\":-1,\"b\":-1}\n", Cancellation);

        var run = await _serving.RunAsync("predict", _model, "-f", rows, "--out", output);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Out);
        var predictions = (await File.ReadAllLinesAsync(output, Cancellation)).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["high", "low"], predictions.Select(p => (string?)p["label"]));
        Assert.Equal(1.0, (double)predictions[0]["probabilities"]!["high"]! + (double)predictions[0]["probabilities"]!["low"]!, 5);
    }

    [Fact]
    public async Task Predict_JsonOption_WithVersion_AsCsv()
    {
        var run = await _serving.RunAsync("predict", _model, "--json", "{\"rows\":[{\"a\":2,\"b\":3}]}", "--version", "v1", "--format", "csv");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith("a,b,label,p_low,p_high\n2,3,high,", run.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_UnknownModel_ExitsNotFound_WithTheServersReason()
    {
        var run = await _serving.RunAsync("predict", "no-such-model", "--json", "{\"a\":1,\"b\":2}");

        Assert.Equal((int)ExitCode.NotFound, run.ExitCode);
        Assert.Contains("no model named 'no-such-model'", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_BadFiles_ExitUsage_NamingTheProblem()
    {
        using var folder = new TempDirectory();
        var ragged = folder.File("ragged.csv");
        await File.WriteAllTextAsync(ragged, "a,b\n1,2\n3\n", Cancellation);
        var notJson = folder.File("rows.jsonl");
        await File.WriteAllTextAsync(notJson, "{\"a\":1,\"b\":2}\nnot json\n", Cancellation);

        var raggedRun = await _serving.RunAsync("predict", _model, "--file", ragged);
        var missingRun = await _serving.RunAsync("predict", _model, "--file", folder.File("missing.csv"));
        var notJsonRun = await _serving.RunAsync("predict", _model, "--file", notJson);
        var missingColumnRun = await _serving.RunAsync("predict", _model, "--json", "{\"a\":1}");
        var bothRun = await _serving.RunAsync("predict", _model, "--file", ragged, "--json", "{}");

        Assert.Equal((int)ExitCode.Usage, raggedRun.ExitCode);
        Assert.Contains("ragged.csv line 3 has 1 fields; the header has 2", raggedRun.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, missingRun.ExitCode);
        Assert.Contains("missing.csv", missingRun.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, notJsonRun.ExitCode);
        Assert.Contains("rows.jsonl line 2 is not valid JSON", notJsonRun.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, missingColumnRun.ExitCode);
        Assert.Contains("(400)", missingColumnRun.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, bothRun.ExitCode);
        Assert.Contains("either --file or --json", bothRun.Error + bothRun.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RollbackThenPromote_MoveCurrentJson_AndPredictionsFollow()
    {
        // v2 answers "high" for everything that v1 calls "low" near zero: bias 10.
        await Task.Delay(1100, Cancellation); // version folders are ordered by time: v2 is newer
        await TestModels.PublishAsync(_model, "v2", TestModels.TwoClass(bias: 10));

        var rollback = await _serving.RunAsync("rollback", _model, "v1", "--json");
        var newer = await _serving.RunAsync("rollback", _model, "v2");
        var afterRollback = await ModelPointer.ReadAsync(TestModels.Container(), _model, Cancellation);
        var predictOld = await _serving.RunAsync("predict", _model, "--json", "{\"a\":-1,\"b\":-1}");
        var promote = await _serving.RunAsync("promote", _model, "v2");
        var afterPromote = await ModelPointer.ReadAsync(TestModels.Container(), _model, Cancellation);
        var again = await _serving.RunAsync("promote", _model, "v2");

        Assert.Equal((int)ExitCode.Usage, newer.ExitCode);
        Assert.Contains($"use 'pipeline promote {_model} v2'", newer.Error, StringComparison.Ordinal);
        Assert.True(rollback.ExitCode == 0, rollback.ToString());
        var moved = JsonNode.Parse(rollback.Out)!;
        Assert.Equal("v1", (string?)moved["version"]);
        Assert.Equal("v2", (string?)moved["previousVersion"]);
        Assert.Equal("v1", afterRollback.Current?.Version);
        Assert.Equal("low", (string?)JsonNode.Parse(predictOld.Out)!["label"]);
        Assert.True(promote.ExitCode == 0, promote.ToString());
        Assert.Contains("now serves v2 (was v1)", promote.Out, StringComparison.Ordinal);
        Assert.Equal("v2", afterPromote.Current?.Version);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("already serves v2", again.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Promote_WrongAdminKey_ExitsUnauthorized_AndLeavesCurrentJson()
    {
        await TestModels.PublishAsync(_model, "v0", TestModels.TwoClass(bias: 1), moveCurrent: false);

        var run = await CliTestHost.RunAsync(["promote", _model, "v0", "--connection-string", Azurite.ConnectionString, "--serving-url", _serving.Url,
            "--key", ServingAppFactory.FunctionKey, "--admin-key", "wrong-admin-key"]);

        Assert.Equal((int)ExitCode.Unauthorized, run.ExitCode);
        Assert.Contains("refused the admin key", run.Error, StringComparison.Ordinal);
        Assert.Equal("v1", (await ModelPointer.ReadAsync(TestModels.Container(), _model, Cancellation)).Current?.Version);
    }

    [Fact]
    public async Task Rollback_UnknownVersion_ExitsNotFound_ListingTheVersions()
    {
        var run = await _serving.RunAsync("rollback", _model, "v9");

        Assert.Equal((int)ExitCode.NotFound, run.ExitCode);
        Assert.Contains("has no version 'v9'; it has v1", run.Error, StringComparison.Ordinal);
    }
}
