using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;

namespace Pipeline.Cli.Target;

/// <summary>The clients of one target: storage (blobs) and the serving app's HTTP API, created when first used.</summary>
public sealed class PipelineTarget(TargetOptions options) : IDisposable
{
    private BlobServiceClient? _blobs;
    private ServingClient? _serving;

    public TargetOptions Options { get; } = options;

    /// <summary>Where storage is, for messages (never the key).</summary>
    public string StorageDescription => Options.IsAzure
        ? $"storage account '{Options.Account}' ({Options.BlobEndpoint})"
        : _blobs is { } blobs ? $"storage at {blobs.Uri.GetLeftPart(UriPartial.Authority)}" : "storage";

    public BlobServiceClient Blobs => _blobs ??= CreateBlobs();

    public PipelineStore Store => new(Blobs);

    public ServingClient Serving => _serving ??= new ServingClient(
        Options.ServingUrl ?? throw new CliException(ExitCode.Usage, "No serving app URL: pass --serving-url, or --azd / --env-file to read SERVING_APP_URL from azd."),
        Options.Key, Options.AdminKey);

    private BlobServiceClient CreateBlobs()
    {
        // Fewer, shorter retries than the SDK's defaults: a person is waiting, and an unreachable endpoint should be
        // reported in seconds, not after minutes of back-off.
        var clientOptions = new BlobClientOptions
        {
            Retry = { MaxRetries = 2, Delay = TimeSpan.FromMilliseconds(300), MaxDelay = TimeSpan.FromSeconds(2), NetworkTimeout = TimeSpan.FromSeconds(60), Mode = RetryMode.Exponential },
        };
        if (Options.IsAzure)
        {
            return new BlobServiceClient(Options.BlobEndpoint, new DefaultAzureCredential(), clientOptions);
        }

        try
        {
            return new BlobServiceClient(Options.ConnectionString, clientOptions);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new CliException(ExitCode.Usage, $"The storage connection string is not valid ({e.Message}). Locally leave it out (Azurite's development account) or pass the full one (docs/cli.md).", e);
        }
    }

    public void Dispose() => _serving?.Dispose();
}
