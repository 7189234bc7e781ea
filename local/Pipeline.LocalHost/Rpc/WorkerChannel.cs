using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Pipeline.LocalHost.Rpc;

/// <summary>
/// One isolated worker's event stream, seen from the host's side: the start-up handshake (worker init, function metadata,
/// one load per function, in the order the Functions host sends them) and invocations. Requests are written by one
/// writer loop; replies are matched to their request by request or invocation id.
/// </summary>
public sealed partial class WorkerChannel(string workerId, ILogger logger)
{
    /// <summary>Capabilities the Functions host announces; the .NET worker reads none of them, the host sends these.</summary>
    private static readonly Dictionary<string, string> HostCapabilities = new() { ["MultiStream"] = "1" };

    private readonly Channel<StreamingMessage> _outbound = Channel.CreateUnbounded<StreamingMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StreamingMessage>> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _invocationTraces = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<string, RpcFunctionMetadata> _functions = [];

    public string WorkerId => workerId;

    /// <summary>The functions the worker reported (worker indexing), by name, once <see cref="InitializeAsync"/> has run.</summary>
    public IReadOnlyDictionary<string, RpcFunctionMetadata> Functions => _functions;

    /// <summary>Completes when the worker has opened its stream and said <c>StartStream</c>.</summary>
    public Task Connected => _connected.Task;

    /// <summary>Completes when the stream has ended (the worker exited or was terminated).</summary>
    public Task Closed => _closed.Task;

    /// <summary>Serves the stream until the worker closes it or the call is cancelled.</summary>
    internal async Task RunAsync(IAsyncStreamReader<StreamingMessage> requests, IServerStreamWriter<StreamingMessage> responses, CancellationToken cancellationToken)
    {
        _connected.TrySetResult();
        var writer = Task.Run(async () =>
        {
            await foreach (var message in _outbound.Reader.ReadAllAsync(cancellationToken))
            {
                await responses.WriteAsync(message, cancellationToken);
            }
        }, cancellationToken);

        try
        {
            while (await requests.MoveNext(cancellationToken))
            {
                Receive(requests.Current);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException || e is Grpc.Core.RpcException { StatusCode: StatusCode.Cancelled })
        {
        }
        finally
        {
            _outbound.Writer.TryComplete();
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new WorkerUnavailableException($"Worker {workerId} closed its stream."));
            }

            _closed.TrySetResult();
        }

        await writer.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private void Receive(StreamingMessage message)
    {
        switch (message.ContentCase)
        {
            case StreamingMessage.ContentOneofCase.RpcLog:
                Forward(message.RpcLog);
                return;
            case StreamingMessage.ContentOneofCase.WorkerStatusRequest:
                Send(new StreamingMessage { RequestId = message.RequestId, WorkerStatusResponse = new WorkerStatusResponse() });
                return;
            case StreamingMessage.ContentOneofCase.InvocationResponse:
                Complete($"invoke:{message.InvocationResponse.InvocationId}", message);
                return;
            case StreamingMessage.ContentOneofCase.FunctionLoadResponse:
                Complete($"load:{message.FunctionLoadResponse.FunctionId}", message);
                return;
            case StreamingMessage.ContentOneofCase.WorkerInitResponse:
            case StreamingMessage.ContentOneofCase.FunctionMetadataResponse:
            case StreamingMessage.ContentOneofCase.WorkerStatusResponse:
                Complete(message.RequestId, message);
                return;
            default:
                LogUnexpected(logger, workerId, message.ContentCase.ToString());
                return;
        }
    }

    private void Complete(string key, StreamingMessage message)
    {
        if (_pending.TryRemove(key, out var pending))
        {
            pending.TrySetResult(message);
        }
    }

    private void Send(StreamingMessage message)
    {
        if (!_outbound.Writer.TryWrite(message))
        {
            throw new WorkerUnavailableException($"Worker {workerId} has closed its stream.");
        }
    }

    private async Task<StreamingMessage> RequestAsync(string key, StreamingMessage message, CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<StreamingMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[key] = reply;
        try
        {
            Send(message);
            return await reply.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    /// <summary>
    /// The Functions host's start-up sequence for a worker that indexes its own functions: <c>WorkerInitRequest</c>,
    /// <c>FunctionsMetadataRequest</c>, then one <c>FunctionLoadRequest</c> per function with the id the worker assigned.
    /// </summary>
    public async Task InitializeAsync(string appDirectory, CancellationToken cancellationToken)
    {
        var initId = Guid.NewGuid().ToString();
        var init = new WorkerInitRequest { HostVersion = "4.0.0.0-local", WorkerDirectory = appDirectory, FunctionAppDirectory = appDirectory };
        init.Capabilities.Add(HostCapabilities);
        var initReply = await RequestAsync(initId, new StreamingMessage { RequestId = initId, WorkerInitRequest = init }, cancellationToken);
        EnsureSuccess(initReply.WorkerInitResponse.Result, "worker init");

        var metadataId = Guid.NewGuid().ToString();
        var metadataReply = await RequestAsync(metadataId, new StreamingMessage
        {
            RequestId = metadataId,
            FunctionsMetadataRequest = new FunctionsMetadataRequest { FunctionAppDirectory = appDirectory },
        }, cancellationToken);
        var metadata = metadataReply.FunctionMetadataResponse;
        EnsureSuccess(metadata.Result, "function indexing");

        var functions = new Dictionary<string, RpcFunctionMetadata>(StringComparer.OrdinalIgnoreCase);
        foreach (var function in metadata.FunctionMetadataResults)
        {
            // The worker resolves script_file against its working directory; the host passes it rooted in the app folder.
            function.Directory = appDirectory;
            function.ScriptFile = Path.GetFullPath(Path.Combine(appDirectory, function.ScriptFile));
            var loadId = Guid.NewGuid().ToString();
            var loaded = await RequestAsync($"load:{function.FunctionId}", new StreamingMessage
            {
                RequestId = loadId,
                FunctionLoadRequest = new FunctionLoadRequest { FunctionId = function.FunctionId, Metadata = function },
            }, cancellationToken);
            EnsureSuccess(loaded.FunctionLoadResponse.Result, $"loading function {function.Name}");
            functions[function.Name] = function;
        }

        _functions = functions;
    }

    /// <summary>
    /// Sends one invocation and waits for its response. When <paramref name="cancellationToken"/> fires (the host's
    /// <c>functionTimeout</c>, or shutdown), the worker is told to cancel the invocation, as the host does.
    /// </summary>
    public async Task<InvocationResponse> InvokeAsync(InvocationRequest request, CancellationToken cancellationToken)
    {
        // The worker's log entries name their invocation; the host writes them under the invocation's trace.
        if (request.TraceContext?.TraceParent is { Length: 55 } traceParent)
        {
            _invocationTraces[request.InvocationId] = traceParent.Substring(3, 32);
        }

        try
        {
            var reply = await RequestAsync($"invoke:{request.InvocationId}", new StreamingMessage
            {
                RequestId = Guid.NewGuid().ToString(),
                InvocationRequest = request,
            }, cancellationToken);
            return reply.InvocationResponse;
        }
        catch (OperationCanceledException)
        {
            _outbound.Writer.TryWrite(new StreamingMessage { InvocationCancel = new InvocationCancel { InvocationId = request.InvocationId } });
            throw;
        }
        finally
        {
            _invocationTraces.TryRemove(request.InvocationId, out _);
        }
    }

    /// <summary>Asks the worker to stop (it calls StopApplication and closes the stream); no reply is sent.</summary>
    public void Terminate(TimeSpan gracePeriod) =>
        _outbound.Writer.TryWrite(new StreamingMessage { WorkerTerminate = new WorkerTerminate { GracePeriod = Duration.FromTimeSpan(gracePeriod) } });

    private static void EnsureSuccess(StatusResult? result, string step)
    {
        if (result is null || result.Status != StatusResult.Types.Status.Success)
        {
            throw new WorkerUnavailableException($"The worker failed {step}: {result?.Exception?.Message ?? result?.Result ?? "no result"}");
        }
    }

    private void Forward(RpcLog log)
    {
        var level = log.Level switch
        {
            RpcLog.Types.Level.Trace => LogLevel.Trace,
            RpcLog.Types.Level.Debug => LogLevel.Debug,
            RpcLog.Types.Level.Information => LogLevel.Information,
            RpcLog.Types.Level.Warning => LogLevel.Warning,
            RpcLog.Types.Level.Error => LogLevel.Error,
            RpcLog.Types.Level.Critical => LogLevel.Critical,
            _ => LogLevel.None,
        };
        if (level == LogLevel.None)
        {
            return;
        }

        if (!string.IsNullOrEmpty(log.InvocationId) && _invocationTraces.TryGetValue(log.InvocationId, out var traceId))
        {
            LogWorkerInvocation(logger, level, log.Category, log.Message, log.Exception?.Message, log.InvocationId, traceId);
        }
        else
        {
            LogWorker(logger, level, log.Category, log.Message, log.Exception?.Message);
        }
    }

    [LoggerMessage(Message = "[worker] {Category}: {Message} {Exception}")]
    private static partial void LogWorker(ILogger logger, LogLevel level, string category, string message, string? exception);

    [LoggerMessage(Message = "[worker] {Category}: {Message} {Exception} (invocation {InvocationId}, TraceId:{TraceId})")]
    private static partial void LogWorkerInvocation(ILogger logger, LogLevel level, string category, string message, string? exception, string invocationId, string traceId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Worker {WorkerId} sent {Content}, which this host does not handle")]
    private static partial void LogUnexpected(ILogger logger, string workerId, string content);
}

/// <summary>The worker is not connected, closed its stream, or failed its start-up; the invocation did not run.</summary>
public sealed class WorkerUnavailableException(string message) : Exception(message);

/// <summary>
/// The host's gRPC endpoint: the worker's <c>EventStream</c> call is handed to the <see cref="WorkerChannel"/> registered
/// for the worker id it announces in <c>StartStream</c>.
/// </summary>
public sealed class FunctionRpcService(WorkerChannels channels) : FunctionRpc.FunctionRpcBase
{
    public override async Task EventStream(IAsyncStreamReader<StreamingMessage> requestStream, IServerStreamWriter<StreamingMessage> responseStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken) || requestStream.Current.StartStream is not { } start)
        {
            throw new Grpc.Core.RpcException(new Status(StatusCode.InvalidArgument, "The first message must be StartStream."));
        }

        var channel = channels.Find(start.WorkerId)
            ?? throw new Grpc.Core.RpcException(new Status(StatusCode.NotFound, $"No worker with id '{start.WorkerId}' was started by this host."));
        await channel.RunAsync(requestStream, responseStream, context.CancellationToken);
    }
}

/// <summary>The channels of the workers this host started, by worker id.</summary>
public sealed class WorkerChannels
{
    private readonly ConcurrentDictionary<string, WorkerChannel> _channels = new(StringComparer.Ordinal);

    public void Add(WorkerChannel channel) => _channels[channel.WorkerId] = channel;

    public WorkerChannel? Find(string workerId) => _channels.GetValueOrDefault(workerId);
}
