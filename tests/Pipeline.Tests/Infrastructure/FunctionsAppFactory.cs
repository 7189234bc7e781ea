using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// The functions app in memory, against Azurite, with a short current.json poll interval and, unless a test asks for one,
/// no upload debounce (every event builds at once).
/// </summary>
public sealed class FunctionsAppFactory(TimeSpan? quietPeriod = null) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("Storage:ConnectionString", Azurite.ConnectionString);
        builder.UseSetting("Models:CurrentPollInterval", "00:00:00.500");
        builder.UseSetting("Preprocess:QuietPeriod", (quietPeriod ?? TimeSpan.Zero).ToString("c", System.Globalization.CultureInfo.InvariantCulture));
    }
}
