using Azure.Storage.Blobs;
using Azure.Storage.Queues;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// The Azurite instance integration tests use (<c>AZURITE_CONNECTION_STRING</c>, default the well-known development account
/// on 127.0.0.1). Tests fail, never skip, when it is not running: start it with <c>scripts/azurite.sh start</c>.
/// </summary>
public static class Azurite
{
    /// <summary>Azurite's well-known development account (public, documented by Microsoft; not a secret).</summary>
    public const string AccountName = "devstoreaccount1";

    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("AZURITE_CONNECTION_STRING") is { Length: > 0 } value ? value : "UseDevelopmentStorage=true";

    public static BlobServiceClient Blobs() => new(ConnectionString);

    public static QueueServiceClient Queues() => new(ConnectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None });

    /// <summary>A unique lower-case name for a test's dataset, container or queue.</summary>
    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)];

    public static async Task EnsureRunningAsync()
    {
        try
        {
            await Blobs().GetPropertiesAsync(TestContext.Current.CancellationToken);
        }
        catch (Exception e) when (e is Azure.RequestFailedException or HttpRequestException or AggregateException)
        {
            Assert.Fail($"Azurite is not reachable ({e.Message}). Start it with 'scripts/azurite.sh start' (the README's test command does).");
        }
    }
}
