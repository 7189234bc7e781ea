using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Pipeline.Tests.Infrastructure;

/// <summary>The functions app in memory, against Azurite, with a short current.json poll interval.</summary>
public sealed class FunctionsAppFactory : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("Storage:ConnectionString", Azurite.ConnectionString);
        builder.UseSetting("Models:CurrentPollInterval", "00:00:00.500");
    }
}
