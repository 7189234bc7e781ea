using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// An Azurite of a test's own (the project's npm install, free loopback ports, a temp data folder), for fault tests that
/// kill storage and start it again on the same ports and data without disturbing the Azurite other tests share.
/// </summary>
public sealed class PrivateAzurite : IAsyncDisposable
{
    private readonly TempDirectory _data = new();
    private readonly int _blobPort = Ports.Free();
    private readonly int _queuePort = Ports.Free();
    private readonly int _tablePort = Ports.Free();
    private Process? _process;

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={Azurite.AccountName};AccountKey={Azurite.AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{_blobPort}/{Azurite.AccountName};QueueEndpoint=http://127.0.0.1:{_queuePort}/{Azurite.AccountName};TableEndpoint=http://127.0.0.1:{_tablePort}/{Azurite.AccountName};";

    public BlobServiceClient Blobs() => new(ConnectionString);

    public QueueServiceClient Queues() => new(ConnectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None });

    public static async Task<PrivateAzurite> StartAsync(CancellationToken cancellationToken)
    {
        var azurite = new PrivateAzurite();
        await azurite.RestartAsync(cancellationToken);
        return azurite;
    }

    /// <summary>Starts it (again, on the same ports and data) and waits until blob and queue ports answer (30 s at most).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        var executable = Path.Combine(Repository.Root(), "node_modules", ".bin", "azurite");
        Assert.True(File.Exists(executable), $"Azurite is not installed at {executable}: run 'npm ci' (scripts/test.sh does).");
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "--silent", "--location", _data.Path, "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
            "--blobPort", Invariant(_blobPort), "--queuePort", Invariant(_queuePort), "--tablePort", Invariant(_tablePort),
            "--skipApiVersionCheck", "--disableTelemetry",
        })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (!(Answers(_blobPort) && Answers(_queuePort)))
        {
            Assert.False(_process.HasExited, $"Azurite exited with {(_process.HasExited ? _process.ExitCode : 0)}");
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "Azurite did not answer within 30 s");
            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>
    /// Stops storage at once (SIGTERM): open requests fail and nothing answers until <see cref="RestartAsync"/>. Not
    /// SIGKILL: Azurite keeps its blob and queue index in memory and saves it every few seconds, so a SIGKILL loses
    /// writes it has already acknowledged — which durable storage never does, and no client could recover from.
    /// </summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            using var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(stopped.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        _data.Dispose();
    }

    private static bool Answers(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
