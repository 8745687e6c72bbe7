process MERGE {
    label 'process_single'

    input:
    path genes_tables               // phase 1: every gene's <batch>.genes.tsv
    path drivers_tables
    path attribution_genes_tables   // phase 2: the selected genes' tables ([] when none was selected)
    path attribution_drivers_tables
    path selection                  // attribution_genes.tsv; [] for a one-phase merge (nf-test)
    path cost_files                 // PREDICT's *.reference.json, ISM's *.ism.json, MOTIFS' *.motifs.json
    path motif_tables               // MOTIFS' per-batch tables ([] without the motif analysis)
    path genes
    path finemapped                 // [] when not given: the fraction of fine-mapped genes driven by the causal variant

    output:
    path 'assessment/genes.tsv',     emit: genes
    path 'assessment/drivers.tsv',   emit: drivers
    path 'assessment/summary.json',  emit: summary
    path 'assessment/attribution_genes.tsv', optional: true, emit: selection
    path 'assessment/{driver_motifs,seqlets,motif_snvs,motif_enrichment}.tsv', optional: true, emit: motifs
    path 'assessment/motif_{clusters.meme,summary.json}', optional: true,     emit: motif_summary
    path 'versions.yml',             emit: versions

    script:
    def phases = selection ? "--attribution ${attribution_genes_tables} --selection ${selection}" : ''
    def costs  = cost_files ? "--costs ${cost_files}" : ''
    def fine   = finemapped ? "--finemapped ${finemapped}" : ''
    def driver_motifs = [motif_tables].flatten().findAll { it.name.endsWith('.driver_motifs.tsv') }
    def motifs = driver_motifs ? "--motifs ${driver_motifs.join(' ')}" : ''
    """
    seqgx merge \\
        --genes ${genes_tables} --drivers ${drivers_tables} ${phases} ${costs} ${motifs} --annotation ${genes} ${fine} \\
        --fdr-alpha ${params.fdr_alpha} --out assessment

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p assessment
    touch assessment/genes.tsv assessment/drivers.tsv
    echo '{}' > assessment/summary.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
