using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Pipeline.Serving;
using Pipeline.Serving.Http;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// The serving app in memory, against Azurite, with a short current.json poll interval and a function key that every
/// client it creates sends (as clients of the deployed app do); <paramref name="settings"/> override configuration.
/// </summary>
public sealed class ServingAppFactory(IReadOnlyDictionary<string, string?>? settings = null) : WebApplicationFactory<ServingApp>
{
    public const string FunctionKey = "test-function-key-0123456789";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("Storage:ConnectionString", Azurite.ConnectionString);
        builder.UseSetting("Models:CurrentPollInterval", "00:00:00.500");
        builder.UseSetting("Http:FunctionKey", FunctionKey);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }
    }

    protected override void ConfigureClient(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Add(FunctionKeyMiddleware.HeaderName, FunctionKey);
    }
}
