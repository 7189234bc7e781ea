using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// The functions app in memory, against Azurite, with a short current.json poll interval and, unless a test sets
/// <c>Preprocess:QuietPeriod</c>, no upload debounce (every event builds at once). <paramref name="settings"/> override.
/// </summary>
public sealed class FunctionsAppFactory(IReadOnlyDictionary<string, string>? settings = null) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("Storage:ConnectionString", Azurite.ConnectionString);
        builder.UseSetting("Models:CurrentPollInterval", "00:00:00.500");
        builder.UseSetting("Preprocess:QuietPeriod", "00:00:00");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            builder.UseSetting(key, value);
        }
    }
}
