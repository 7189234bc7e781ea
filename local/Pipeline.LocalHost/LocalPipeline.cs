using System.Globalization;
using Microsoft.Extensions.Options;
using Pipeline.Storage;

namespace Pipeline.LocalHost;

/// <summary>
/// Plays the Azure Functions host for both function apps — the preprocessing app's isolated worker over the host's gRPC
/// protocol, driving its queue and timer triggers; the serving app's custom handler on its HTTP port — and starts the training
/// worker and the scoring job worker (the trainer's executable in <c>score</c> mode), as the two Container Apps jobs would.
/// </summary>
public sealed partial class LocalPipeline(
    IOptions<LocalHostOptions> options,
    IOptions<StorageOptions> storage,
    Azure.Storage.Queues.QueueServiceClient queues,
    TimeProvider time,
    ILoggerFactory loggers,
    ILogger<LocalPipeline> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var environment = new Dictionary<string, string>
        {
            ["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development",
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["AzureWebJobsStorage"] = storage.Value.ConnectionString ?? "UseDevelopmentStorage=true",
            ["Storage__ConnectionString"] = storage.Value.ConnectionString ?? "UseDevelopmentStorage=true",
        };

        await using var serving = string.IsNullOrEmpty(o.ServingAppPath) ? null : StartServing(o, environment);
        await using var trainer = string.IsNullOrEmpty(o.TrainerPath)
            ? null
            : new ChildProcess("trainer", Path.GetFullPath(o.TrainerPath), [], Path.GetDirectoryName(Path.GetFullPath(o.TrainerPath))!, environment);
        // The scoring job: the trainer's executable in score mode on score-jobs, as the second Container Apps job runs its image.
        await using var scoringJob = string.IsNullOrEmpty(o.TrainerPath)
            ? null
            : new ChildProcess("scoring-job", Path.GetFullPath(o.TrainerPath), ["score"], Path.GetDirectoryName(Path.GetFullPath(o.TrainerPath))!, environment);
        await using var worker = await IsolatedWorkerHost.StartAsync(o.FunctionsAppPath, environment, loggers, stoppingToken);
        if (serving is not null)
        {
            using var servingClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{o.ServingPort}") };
            await WaitUntilReadyAsync(servingClient, serving, stoppingToken);
            LogReady(logger, o.ServingPort);
        }

        var host = new QueueTriggerHost(worker, queues, time, loggers.CreateLogger<QueueTriggerHost>());
        var timers = new TimerTriggerHost(worker, time, loggers.CreateLogger<TimerTriggerHost>(), o.TimerSchedules);
        await Task.WhenAll(host.RunAsync(o.QueuePollInterval, stoppingToken), timers.RunAsync(stoppingToken));
    }

    /// <summary>The serving app, started as the Functions host starts a custom handler (HTTP functions are called on its port directly).</summary>
    private static ChildProcess StartServing(LocalHostOptions o, Dictionary<string, string> environment)
    {
        var app = CustomHandlerApp.Load(Path.GetFullPath(o.ServingAppPath!));
        var servingEnvironment = new Dictionary<string, string>(environment)
        {
            ["FUNCTIONS_CUSTOMHANDLER_PORT"] = o.ServingPort.ToString(CultureInfo.InvariantCulture),
        };
        return new ChildProcess("serving", app.ExecutablePath, app.Arguments, app.Path, servingEnvironment);
    }

    private static async Task WaitUntilReadyAsync(HttpClient handler, ChildProcess process, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The serving app exited with code {process.ExitCode} before it was ready.");
            }

            try
            {
                using var response = await handler.GetAsync(new Uri("/", UriKind.Relative), deadline.Token);
                return; // any response counts as ready, as for the Functions host
            }
            catch (HttpRequestException)
            {
                await Task.Delay(200, deadline.Token);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving app ready on http://127.0.0.1:{Port}; try POST /api/models/{{name}}/predict (header x-functions-key: local-development-key) after uploading raw/{{name}}/data.csv")]
    private static partial void LogReady(ILogger logger, int port);
}
