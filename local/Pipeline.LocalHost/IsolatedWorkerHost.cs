using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Pipeline.LocalHost.Rpc;

namespace Pipeline.LocalHost;

/// <summary>
/// Plays the Functions host for an isolated-worker app folder: serves the host's gRPC endpoint on loopback (HTTP/2
/// without TLS), starts the worker the way the host does — the command line of the app's <c>worker.config.json</c> plus
/// the host's endpoint and ids, in the app folder, with the host's environment — and runs the start-up handshake. Then
/// <see cref="Channel"/> invokes the app's functions, and <see cref="QueueFunctions"/> lists its queue triggers.
/// </summary>
public sealed partial class IsolatedWorkerHost : IAsyncDisposable
{
    /// <summary>How long a worker has to connect and finish its start-up before the host gives up on it.</summary>
    public static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(60);

    private readonly WebApplication _server;
    private readonly ChildProcess _process;
    private readonly ILogger _logger;

    private IsolatedWorkerHost(WebApplication server, ChildProcess process, WorkerChannel channel, FunctionAppSettings settings, ILogger logger)
    {
        _server = server;
        _process = process;
        Channel = channel;
        Settings = settings;
        _logger = logger;
    }

    public WorkerChannel Channel { get; }

    /// <summary>The app's host.json settings the host applies (timeouts, queue retry rules).</summary>
    public FunctionAppSettings Settings { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The worker process's id (for its memory figures in /proc).</summary>
    public int WorkerProcessId => _process.Id;

    /// <summary>Every function with a queue trigger, from the bindings the worker reported.</summary>
    public IReadOnlyList<QueueFunction> QueueFunctions => [.. Channel.Functions.Values.Select(QueueFunction.FromMetadata).OfType<QueueFunction>()];

    /// <summary>Starts the worker of the app in <paramref name="appDirectory"/> and waits until its functions are loaded.</summary>
    /// <param name="environment">App settings, passed to the worker as environment variables (as the host passes its own).</param>
    public static async Task<IsolatedWorkerHost> StartAsync(string appDirectory, IReadOnlyDictionary<string, string> environment, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        appDirectory = Path.GetFullPath(appDirectory);
        var settings = FunctionAppSettings.Load(appDirectory);
        var description = WorkerDescription.Load(appDirectory);
        var logger = loggers.CreateLogger("Pipeline.LocalHost.FunctionsHost");

        var channels = new WorkerChannels();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(grpc => grpc.MaxReceiveMessageSize = null);
        builder.Services.AddSingleton(channels);
        var server = builder.Build();
        server.MapGrpcService<FunctionRpcService>();
        await server.StartAsync(cancellationToken);
        var endpoint = new Uri(server.Urls.Single());

        var workerId = Guid.NewGuid().ToString();
        var channel = new WorkerChannel(workerId, logger);
        channels.Add(channel);
        var process = StartWorker(appDirectory, description, endpoint, workerId, environment);
        var host = new IsolatedWorkerHost(server, process, channel, settings, logger);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(StartupTimeout);
            var exited = process.Exited;
            if (await Task.WhenAny(channel.Connected, exited).WaitAsync(deadline.Token) == exited)
            {
                throw new WorkerUnavailableException($"The worker exited with code {process.ExitCode} before it connected to the host.");
            }

            await channel.InitializeAsync(appDirectory, deadline.Token);
            LogStarted(logger, appDirectory, channel.Functions.Count, string.Join(", ", channel.Functions.Keys));
            return host;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await host.DisposeAsync();
            throw new WorkerUnavailableException($"The worker did not start within {StartupTimeout.TotalSeconds:F0} s.");
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The host's command line for a language worker: <c>{defaultExecutablePath} {arguments} "{defaultWorkerPath}"
    /// {workerArguments}</c> followed by the endpoint and ids, in both spellings the host sends (the .NET worker reads the
    /// <c>--functions-*</c> ones).
    /// </summary>
    private static ChildProcess StartWorker(string appDirectory, WorkerDescription description, Uri endpoint, string workerId, IReadOnlyDictionary<string, string> settings)
    {
        var requestId = Guid.NewGuid().ToString();
        var maxMessageLength = int.MaxValue.ToString(CultureInfo.InvariantCulture);
        var port = endpoint.Port.ToString(CultureInfo.InvariantCulture);
        List<string> arguments =
        [
            .. description.Arguments,
            Path.Combine(appDirectory, description.WorkerPath),
            .. description.WorkerArguments,
            "--host", endpoint.Host, "--port", port, "--workerId", workerId, "--requestId", requestId, "--grpcMaxMessageLength", maxMessageLength,
            "--functions-uri", endpoint.AbsoluteUri, "--functions-worker-id", workerId, "--functions-request-id", requestId,
            "--functions-grpc-max-message-length", maxMessageLength,
        ];
        var environment = new Dictionary<string, string>(settings)
        {
            ["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated",
            ["AzureWebJobsScriptRoot"] = appDirectory,
            ["FUNCTIONS_WORKER_DIRECTORY"] = appDirectory,
            ["FUNCTIONS_APPLICATION_DIRECTORY"] = appDirectory,
        };
        return new ChildProcess("functions", description.ExecutablePath, arguments, appDirectory, environment);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Channel.Terminate(TimeSpan.FromSeconds(5));
            await Task.WhenAny(_process.Exited, Task.Delay(TimeSpan.FromSeconds(5)));
        }

        await _process.DisposeAsync();
        await _server.StopAsync();
        await _server.DisposeAsync();
        LogStopped(_logger);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Functions host stand-in: worker for {AppDirectory} started, {Count} function(s): {Functions}")]
    private static partial void LogStarted(ILogger logger, string appDirectory, int count, string functions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Functions host stand-in: worker stopped")]
    private static partial void LogStopped(ILogger logger);
}

/// <summary>The <c>description</c> of an app's <c>worker.config.json</c> (written by the Worker SDK at build).</summary>
public sealed record WorkerDescription(string ExecutablePath, IReadOnlyList<string> Arguments, string WorkerPath, IReadOnlyList<string> WorkerArguments)
{
    public static WorkerDescription Load(string appDirectory)
    {
        var path = Path.Combine(appDirectory, "worker.config.json");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No worker.config.json in {appDirectory}: it is not the build or publish output of an isolated-worker app.", path);
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var description = document.RootElement.GetProperty("description");
        static IReadOnlyList<string> Strings(JsonElement parent, string name) =>
            parent.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array ? [.. array.EnumerateArray().Select(a => a.GetString()!)] : [];

        var executable = description.GetProperty("defaultExecutablePath").GetString()!.Replace("{WorkerRoot}", appDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        return new WorkerDescription(
            executable,
            Strings(description, "arguments"),
            description.GetProperty("defaultWorkerPath").GetString()!,
            Strings(description, "workerArguments"));
    }
}

/// <summary>What the host reads from an app's host.json for triggers: <c>functionTimeout</c> and <c>extensions.queues</c>.</summary>
public sealed record FunctionAppSettings(TimeSpan FunctionTimeout, int MaxDequeueCount, TimeSpan VisibilityTimeout, int BatchSize, bool Base64Messages)
{
    public static FunctionAppSettings Load(string appDirectory)
    {
        var path = Path.Combine(appDirectory, "host.json");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No host.json in {appDirectory}: point the stand-in at the functions app's build or publish output.", path);
        }

        using var host = JsonDocument.Parse(File.ReadAllText(path));
        var root = host.RootElement;
        var queues = root.TryGetProperty("extensions", out var ext) && ext.TryGetProperty("queues", out var q) ? q : default;
        bool Has(string name, out JsonElement value)
        {
            value = default;
            return queues.ValueKind == JsonValueKind.Object && queues.TryGetProperty(name, out value);
        }

        // The host's defaults (Storage Queues extension 5.x): 5 dequeues, no delay between attempts, 16 a batch, base64.
        return new FunctionAppSettings(
            root.TryGetProperty("functionTimeout", out var timeout) ? TimeSpan.Parse(timeout.GetString()!, CultureInfo.InvariantCulture) : TimeSpan.FromMinutes(30),
            Has("maxDequeueCount", out var max) ? max.GetInt32() : 5,
            Has("visibilityTimeout", out var visibility) ? TimeSpan.Parse(visibility.GetString()!, CultureInfo.InvariantCulture) : TimeSpan.Zero,
            Has("batchSize", out var batch) ? batch.GetInt32() : 16,
            !Has("messageEncoding", out var encoding) || !string.Equals(encoding.GetString(), "none", StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>A function with a queue trigger, and the queue outputs it writes, from its bindings.</summary>
public sealed record QueueFunction(string Name, string FunctionId, string TriggerBinding, string QueueName, bool BinaryTrigger, IReadOnlyList<QueueOutput> Outputs)
{
    /// <summary><c>null</c> when the function has no queue trigger.</summary>
    public static QueueFunction? FromMetadata(RpcFunctionMetadata function)
    {
        var bindings = function.RawBindings.Select(raw => JsonDocument.Parse(raw).RootElement).ToList();
        static string? Text(JsonElement binding, string name) =>
            binding.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)).Value is { ValueKind: JsonValueKind.String } value
                ? value.GetString()
                : null;
        static bool Is(JsonElement binding, string type, string direction) =>
            string.Equals(Text(binding, "type"), type, StringComparison.OrdinalIgnoreCase) && string.Equals(Text(binding, "direction"), direction, StringComparison.OrdinalIgnoreCase);

        var trigger = bindings.FirstOrDefault(b => Is(b, "queueTrigger", "in"));
        if (trigger.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        return new QueueFunction(
            function.Name,
            function.FunctionId,
            Text(trigger, "name")!,
            Text(trigger, "queueName")!,
            string.Equals(Text(trigger, "dataType"), "Binary", StringComparison.OrdinalIgnoreCase),
            [.. bindings.Where(b => Is(b, "queue", "out")).Select(b => new QueueOutput(Text(b, "name")!, Text(b, "queueName")!))]);
    }
}

public sealed record QueueOutput(string Binding, string QueueName);
