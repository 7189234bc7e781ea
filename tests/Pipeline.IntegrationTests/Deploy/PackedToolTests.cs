using System.Diagnostics;
using System.Text.Json.Nodes;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Deploy;

/// <summary>
/// The CLI as a user installs it (docs/cli.md): the package <c>dotnet pack</c> makes (scripts/test.sh packs it into
/// artifacts/tool), installed with <c>dotnet tool install</c> and run as the <c>pipeline</c> command against Azurite.
/// </summary>
public sealed class PackedToolTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await Azurite.EnsureRunningAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task InstalledTool_UploadsAndReportsTheDataset()
    {
        var packages = Path.Combine(Repository.Root(), "artifacts", "tool");
        Assert.True(Directory.Exists(packages) && Directory.EnumerateFiles(packages, "Pipeline.Cli.*.nupkg").Any(),
            $"The CLI is not packed in {packages}: run `dotnet pack tools/Pipeline.Cli -c Release -o artifacts/tool` (scripts/test.sh does).");
        using var tools = new TempDirectory();
        var install = await RunAsync("dotnet", ["tool", "install", "Pipeline.Cli", "--tool-path", tools.Path, "--add-source", packages]);
        Assert.True(install.Code == 0, install.ToString());
        var pipeline = Path.Combine(tools.Path, "pipeline");
        Assert.True(File.Exists(pipeline), $"no `pipeline` command in {tools.Path}:\n{install}");

        var help = await RunAsync(pipeline, ["--help"]);
        Assert.True(help.Code == 0, help.ToString());
        foreach (var command in new[] { "upload", "status", "models", "runs", "report", "predict", "rollback", "promote", "rejections" })
        {
            Assert.Contains(command, help.Out, StringComparison.Ordinal);
        }

        using var folder = new TempDirectory();
        var file = folder.File("rows.csv");
        await File.WriteAllTextAsync(file, "a,b,y\n1,2,x\n3,4,z\n", Cancellation);
        var dataset = Azurite.UniqueName("tool");
        var upload = await RunAsync(pipeline, ["upload", file, "--dataset", dataset, "--no-follow", "--json", "--connection-string", Azurite.ConnectionString]);
        Assert.True(upload.Code == 0, upload.ToString());
        Assert.Equal($"raw/{dataset}/rows.csv", (string?)JsonNode.Parse(upload.Out)!["files"]![0]!["blob"]);
        Assert.True((await Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer).GetBlobClient($"{dataset}/rows.csv").ExistsAsync(Cancellation)).Value);

        var unknown = await RunAsync(pipeline, ["rejections", Azurite.UniqueName("none"), "--connection-string", Azurite.ConnectionString]);
        Assert.True(unknown.Code != 0, unknown.ToString());
        Assert.StartsWith("error: ", unknown.Error, StringComparison.Ordinal);
    }

    private sealed record Result(int Code, string Out, string Error)
    {
        public override string ToString() => $"exit {Code}\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
    }

    private static async Task<Result> RunAsync(string executable, string[] arguments)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The tool reads PIPELINE_* settings from the environment: a developer's must not leak into the test.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("PIPELINE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Cancellation);
        var stderr = process.StandardError.ReadToEndAsync(Cancellation);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        deadline.CancelAfter(Deadline);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!Cancellation.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`{executable} {string.Join(' ', arguments)}` did not finish within {Deadline}.");
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
