using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.LocalHost;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// The functions app's real isolated worker, built by the solution build, started and driven over the Functions host's
/// gRPC protocol by the local host stand-in, against Azurite.
/// </summary>
public static class FunctionsWorker
{
    /// <summary>The functions app's build output for this test run's configuration (e.g. <c>release_linux-x64</c>).</summary>
    public static string BuildOutput()
    {
        var configuration = Path.GetFileName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        var path = Path.Combine(Repository.Root(), "artifacts", "bin", "Pipeline.Functions", configuration);
        Assert.True(File.Exists(Path.Combine(path, "worker.config.json")), $"The functions app is not built at {path}.");
        return path;
    }

    /// <summary>The publish output <c>scripts/test.sh</c> makes, as azd packages it.</summary>
    public static string PublishOutput()
    {
        var path = Path.Combine(Repository.Root(), "artifacts", "publish", "Pipeline.Functions", "release_linux-x64");
        Assert.True(File.Exists(Path.Combine(path, "worker.config.json")),
            $"The functions app is not published at {path}: run `dotnet publish functions/Pipeline.Functions -c Release` (scripts/test.sh does).");
        return path;
    }

    /// <summary>
    /// Starts the worker of <paramref name="appDirectory"/> with the app settings a local run gives it plus
    /// <paramref name="settings"/>; the host's log (with the worker's entries) goes to <paramref name="loggers"/>.
    /// </summary>
    public static Task<IsolatedWorkerHost> StartAsync(string appDirectory, IReadOnlyDictionary<string, string>? settings = null, ILoggerFactory? loggers = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development",
            ["AzureWebJobsStorage"] = Azurite.ConnectionString,
            ["Storage__ConnectionString"] = Azurite.ConnectionString,
            ["Preprocess__QuietPeriod"] = "00:00:00",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return IsolatedWorkerHost.StartAsync(appDirectory, environment, loggers ?? NullLoggerFactory.Instance, TestContext.Current.CancellationToken);
    }
}
