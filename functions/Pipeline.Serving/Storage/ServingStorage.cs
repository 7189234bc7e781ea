using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using Pipeline.Storage;

namespace Pipeline.Serving.Storage;

/// <summary>
/// Registers the <see cref="IModelStore"/>: a local folder when <c>Models:Path</c> is set, else the <c>models</c> container
/// through the one <see cref="BlobServiceClient"/> serving needs, from the <c>Storage</c> section (the same settings as
/// the functions app: a connection string locally, <c>Storage__BlobServiceUri</c> + managed identity in Azure). The
/// client is built directly rather than through Microsoft.Extensions.Azure, whose reflection-based configuration is not
/// AOT-safe. Either store is wrapped in a circuit breaker (<see cref="ResilientModelStore"/>).
/// </summary>
public static class ServingStorage
{
    public static IServiceCollection AddServingStorage(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration[$"{Predict.ModelOptions.Section}:{nameof(Predict.ModelOptions.Path)}"] is { Length: > 0 } folder)
        {
            services.AddSingleton<IModelStore>(provider => Resilient(provider, new DirectoryModelStore(folder)));
            services.AddSingleton(new PipelineStorage(null));
            return services;
        }

        services.AddSingleton<IModelStore>(provider => Resilient(provider, new BlobModelStore(provider.GetRequiredService<BlobServiceClient>())));
        services.AddSingleton(provider => new PipelineStorage(provider.GetRequiredService<BlobServiceClient>()));
        services.AddKeyedSingleton(Monitoring.PredictionLog.ContainerKey, (provider, _) =>
            provider.GetRequiredService<BlobServiceClient>().GetBlobContainerClient(StorageNames.MonitoringContainer));
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<StorageOptions>, ServingStorageOptionsValidator>();
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<StorageOptions>>().Value;
            if (!string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                return new BlobServiceClient(options.ConnectionString);
            }

            var clientId = string.IsNullOrWhiteSpace(options.ClientId) ? configuration["AZURE_CLIENT_ID"] : options.ClientId;
            TokenCredential credential = new ManagedIdentityCredential(string.IsNullOrWhiteSpace(clientId)
                ? ManagedIdentityId.SystemAssigned
                : ManagedIdentityId.FromUserAssignedClientId(clientId));
            return new BlobServiceClient(options.BlobServiceUri, credential);
        });
        return services;
    }

    private static ResilientModelStore Resilient(IServiceProvider provider, IModelStore store) =>
        new(store, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<ResilientModelStore>>());
}

/// <summary>Serving needs the blob endpoint only (no queues): a connection string, or <c>Storage:BlobServiceUri</c>.</summary>
public sealed class ServingStorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.IsNullOrWhiteSpace(options.ConnectionString) && options.BlobServiceUri is null
            ? ValidateOptionsResult.Fail("Set Storage:ConnectionString (local, e.g. UseDevelopmentStorage=true), Storage:BlobServiceUri (Azure, managed identity), or Models:Path (a local folder of models).")
            : ValidateOptionsResult.Success;
    }
}
