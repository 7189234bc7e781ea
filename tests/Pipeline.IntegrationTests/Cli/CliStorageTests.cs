using System.Text.Json.Nodes;
using Pipeline.Cli;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Cli;

/// <summary>
/// The tool against Azurite alone: uploads, a real rejection written by the preprocessing engine (status, rejections,
/// and upload following it), unknown names, unreachable storage, and option validation.
/// </summary>
public sealed class CliStorageTests : IAsyncLifetime
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await Azurite.EnsureRunningAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Upload_NoFollow_File_StoresTheBytesUnderRawDataset()
    {
        using var folder = new TempDirectory();
        var file = folder.File("Sales.2024.csv");
        await File.WriteAllTextAsync(file, "a,b,y\n1,2,x\n", Cancellation);
        var dataset = Azurite.UniqueName("cli-up");

        var named = await CliTestHost.StorageAsync("upload", file, "--dataset", dataset, "--no-follow", "--json");
        var defaultName = await CliTestHost.StorageAsync("upload", file, "--no-follow");

        Assert.True(named.ExitCode == 0, named.ToString());
        var result = JsonNode.Parse(named.Out)!;
        Assert.Equal("uploaded", (string?)result["outcome"]);
        Assert.Equal($"raw/{dataset}/Sales.2024.csv", (string?)result["files"]![0]!["blob"]);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(file, Cancellation))), (string?)result["files"]![0]!["sha256"]);
        var stored = await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).GetBlobClient($"{dataset}/Sales.2024.csv").DownloadContentAsync(Cancellation);
        Assert.Equal("a,b,y\n1,2,x\n", stored.Value.Content.ToString());
        Assert.True(defaultName.ExitCode == 0, defaultName.ToString());
        Assert.Contains("uploaded raw/sales-2024/Sales.2024.csv", defaultName.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upload_NoFollow_Folder_UploadsEveryVisibleFile()
    {
        using var folder = new TempDirectory();
        await File.WriteAllTextAsync(folder.File("day1.csv"), "a,y\n1,x\n", Cancellation);
        await File.WriteAllTextAsync(folder.File("dataset.json"), "{\"target\":\"y\"}", Cancellation);
        await File.WriteAllTextAsync(folder.File(".hidden"), "x", Cancellation);
        var dataset = Azurite.UniqueName("cli-folder");

        var run = await CliTestHost.StorageAsync("upload", folder.Path, "-d", dataset, "--no-follow");

        Assert.True(run.ExitCode == 0, run.ToString());
        var names = new List<string>();
        await foreach (var blob in Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = dataset + "/" }, Cancellation))
        {
            names.Add(blob.Name);
        }

        Assert.Equal([$"{dataset}/dataset.json", $"{dataset}/day1.csv"], names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Upload_BadArguments_ExitUsage_BeforeAnythingIsUploaded()
    {
        using var folder = new TempDirectory();
        var file = folder.File("data.csv");
        await File.WriteAllTextAsync(file, "a,y\n1,x\n", Cancellation);

        var missing = await CliTestHost.StorageAsync("upload", folder.File("nope.csv"));
        var badName = await CliTestHost.StorageAsync("upload", file, "--dataset", "Not A Name");
        var empty = await CliTestHost.StorageAsync("upload", Directory.CreateDirectory(folder.File("empty")).FullName);
        var badTimeout = await CliTestHost.StorageAsync("upload", file, "--timeout", "soon");

        Assert.Equal((int)ExitCode.Usage, missing.ExitCode);
        Assert.Contains("No such file or folder", missing.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, badName.ExitCode);
        Assert.Contains("--dataset 'Not A Name' is not a dataset name", badName.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, empty.ExitCode);
        Assert.Contains("has no files to upload", empty.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, badTimeout.ExitCode);
        Assert.Contains("'soon' is not a duration", badTimeout.Error + badTimeout.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rejection_FromThePreprocessingEngine_IsFollowed_Listed_AndShownInStatus()
    {
        // A CSV whose rows are mostly ragged: the engine rejects it and names the first bad line.
        using var folder = new TempDirectory();
        var file = folder.File("broken.csv");
        await File.WriteAllTextAsync(file, "a,b,y\n1,2,x\n1,2\n3\n4\n5\n6\n7,8,z\n", Cancellation);
        var dataset = Azurite.UniqueName("cli-reject");
        await using var preprocessing = new PreprocessingApp();

        var upload = CliTestHost.StorageAsync("upload", file, "--dataset", dataset, "--timeout", "60s");
        // The Event Grid stand-in's part: the event for the uploaded blob, once it exists.
        var blob = Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).GetBlobClient($"{dataset}/broken.csv");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await blob.ExistsAsync(Cancellation)).Value && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Cancellation);
        }

        var outcome = await Invocations.PreprocessAsync(preprocessing, $"{dataset}/broken.csv");
        var followed = await upload;
        var listed = await CliTestHost.StorageAsync("rejections", dataset, "--json");
        var listedText = await CliTestHost.StorageAsync("rejections", dataset);
        var status = await CliTestHost.StorageAsync("status", dataset, "--json");
        var all = await CliTestHost.StorageAsync("status", "--json");

        Assert.Equal(Pipeline.Preprocessing.PreprocessResult.Rejected, outcome.Result);
        Assert.True(followed.ExitCode == (int)ExitCode.Failed, followed.ToString());
        Assert.Contains("rejected", followed.Out, StringComparison.Ordinal);
        Assert.Contains("error: rejected: ragged-rows", followed.Error, StringComparison.Ordinal);
        Assert.Contains("(line 3)", followed.Error, StringComparison.Ordinal);
        var report = JsonNode.Parse(listed.Out)!.AsArray().Single()!;
        Assert.Equal("ragged-rows", (string?)report["reason"]);
        Assert.Equal(3, (int?)report["line"]);
        Assert.Equal($"raw/{dataset}/broken.csv", (string?)report["blob"]);
        Assert.Contains("at line 3", listedText.Out, StringComparison.Ordinal);
        Assert.Equal("ragged-rows", (string?)JsonNode.Parse(status.Out)!["lastRejection"]!["reason"]);
        Assert.Contains(JsonNode.Parse(all.Out)!.AsArray(), d => (string?)d!["dataset"] == dataset);
    }

    [Fact]
    public async Task UnknownDataset_ExitsNotFound()
    {
        var status = await CliTestHost.StorageAsync("status", "no-such-dataset-anywhere");
        var rejections = await CliTestHost.StorageAsync("rejections", "no-such-dataset-anywhere", "--json");

        Assert.Equal((int)ExitCode.NotFound, status.ExitCode);
        Assert.Contains("There is no dataset 'no-such-dataset-anywhere'", status.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.NotFound, rejections.ExitCode);
        Assert.Equal("not-found", (string?)JsonNode.Parse(rejections.Error)!["error"]);
    }

    [Fact]
    public async Task Scoring_ModelWithNothingScored_SaysSo_AndABadNameIsAUsageError()
    {
        var none = await CliTestHost.StorageAsync("scoring", "no-such-model-anywhere");
        var noneJson = await CliTestHost.StorageAsync("scoring", "no-such-model-anywhere", "--json");
        var bad = await CliTestHost.StorageAsync("scoring", "Not A Name");

        Assert.True(none.ExitCode == 0, none.ToString());
        Assert.Contains("No files scored with model 'no-such-model-anywhere' yet.", none.Out, StringComparison.Ordinal);
        Assert.Empty(JsonNode.Parse(noneJson.Out)!.AsArray());
        Assert.Equal((int)ExitCode.Usage, bad.ExitCode);
        Assert.Contains("is not a model name", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scoring_UnreadableReport_IsListedWithItsProblem()
    {
        var model = Azurite.UniqueName("cli-scoring-bad");
        var predictions = Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer);
        await predictions.CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);
        await predictions.GetBlobClient($"{model}/day.csv{StorageNames.ScoringReportSuffix}").UploadAsync(BinaryData.FromString("{not json"), overwrite: true, TestContext.Current.CancellationToken);

        var text = await CliTestHost.StorageAsync("scoring", model);
        var json = await CliTestHost.StorageAsync("scoring", model, "--json");

        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains($"unreadable report predictions/{model}/day.csv.report.json", text.Out, StringComparison.Ordinal);
        var entry = Assert.Single(JsonNode.Parse(json.Out)!.AsArray())!;
        Assert.StartsWith("The report is not a scoring report", entry["problem"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownModel_ExitsNotFound_ForRunsAndReport()
    {
        var runs = await CliTestHost.StorageAsync("runs", "no-such-model-anywhere");
        var report = await CliTestHost.StorageAsync("report", "no-such-model-anywhere");

        Assert.Equal((int)ExitCode.NotFound, runs.ExitCode);
        Assert.Contains("has no training run", runs.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.NotFound, report.ExitCode);
        Assert.Contains("There is no model 'no-such-model-anywhere'", report.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("runs")]
    [InlineData("upload")]
    public async Task StorageUnreachable_ExitsUnreachable_NamingTheEndpoint(string command)
    {
        using var folder = new TempDirectory();
        var file = folder.File("data.csv");
        await File.WriteAllTextAsync(file, "a,y\n1,x\n", Cancellation);
        var connection = CliTestHost.UnreachableConnectionString();
        string[] args = command == "upload" ? ["upload", file, "--dataset", "unreachable"] : [command];

        var run = await CliTestHost.RunAsync([.. args, "--connection-string", connection]);

        Assert.Equal((int)ExitCode.Unreachable, run.ExitCode);
        Assert.Contains("could not be reached", run.Error, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_AreValidated_WithClearErrors()
    {
        var both = await CliTestHost.RunAsync(["status", "--account", "myaccount", "--connection-string", Azurite.ConnectionString]);
        var badAccount = await CliTestHost.RunAsync(["status", "--account", "Not_An_Account"]);
        var badUrl = await CliTestHost.StorageAsync("models", "--serving-url", "ftp://example.org");
        var badConnection = await CliTestHost.RunAsync(["status", "--connection-string", "AccountName=x"]);
        var noEnvFile = await CliTestHost.StorageAsync("status", "--env-file", "/nonexistent/azd.env");
        var azureWithoutUrl = await CliTestHost.RunAsync(["models", "--account", "myaccount"]);

        Assert.Equal((int)ExitCode.Usage, both.ExitCode);
        Assert.Contains("either --account", both.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, badAccount.ExitCode);
        Assert.Contains("--account must be a storage account name", badAccount.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, badUrl.ExitCode);
        Assert.Contains("--serving-url must be an absolute http(s) URL", badUrl.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, badConnection.ExitCode);
        Assert.Contains("connection string is not valid", badConnection.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, noEnvFile.ExitCode);
        Assert.Contains("--env-file: no such file", noEnvFile.Error, StringComparison.Ordinal);
        Assert.Equal((int)ExitCode.Usage, azureWithoutUrl.ExitCode);
        Assert.Contains("No serving app URL", azureWithoutUrl.Error, StringComparison.Ordinal);
    }
}
